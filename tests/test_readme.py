"""The README and docs/ are part of the product: the README's set-up commands must be
the ones CI runs, the pages it links must exist, and what they show that the code also
knows (the permission table, the gateway's options, the proxy configs, the token
format) must be what the code says.

tests/test_quickstart.py runs the README's Quick start; tests/cli holds the presets
table, tests/gateway/test_real_nginx.py the nginx and Caddy configs, line for line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from core.model.token_format import check_format

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text()


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def _setup_blocks() -> list[str]:
    return _shell_blocks(_section(README, "## Set-up for development"))


def test_ci_runs_the_readme_test_command() -> None:
    commands = [
        line for block in _setup_blocks() for line in block.splitlines() if "pytest" in line
    ]
    assert len(commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0].strip() in ci


def test_readme_install_command_runs_the_tool() -> None:
    first = _setup_blocks()[0].strip()
    assert first.startswith("python3 -m venv .venv")
    assert first.endswith("opencode-auth-tui")


def test_the_fast_subset_names_test_folders_that_exist() -> None:
    """The README's quicker test command: core and the CLI, which need no real server."""
    setup = _section(README, "## Set-up for development")
    (command,) = re.findall(r"^\$ (\.venv/bin/python -m pytest tests/\S+.*)$", setup, flags=re.M)
    folders = command.split("pytest", 1)[1].split()
    assert folders == ["tests/core", "tests/cli"]
    assert all((ROOT / folder).is_dir() for folder in folders)


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def test_every_relative_link_leads_somewhere() -> None:
    """Moving text between the README and docs/ must not leave a link behind: each
    relative link names a file that exists and, with `#`, a heading in it."""
    broken = []
    for source in _markdown_files():
        text = re.sub(r"```.*?```", "", source.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (source.parent / path).resolve() if path else source
            if not file.exists():
                broken.append(f"{source.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file.read_text()):
                broken.append(f"{source.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)", README))
    pages = {page.name for page in DOCS.glob("*.md")}
    assert pages <= linked, pages - linked
    assert "phones-and-browsers.md" in linked


def test_example_tokens_are_well_formed() -> None:
    examples = [
        token
        for source in _markdown_files()
        for token in re.findall(r"ocat_[0-9A-Za-z]{20,}", source.read_text())
    ]
    assert examples
    for token in examples:
        assert check_format(token) is None, token


def test_the_permission_table_is_the_policy() -> None:
    """docs/permissions.md's table of what each permission allows is generated from
    the policy file (`opencode-auth-tui policy --markdown`), so it cannot drift."""
    from core.authz.policy import default_policy
    from core.cli.policy import policy_markdown

    page = _page("permissions.md")
    start = page.index("<!-- policy-table")
    start = page.index("\n", start) + 1
    end = page.index("<!-- /policy-table -->")
    assert page[start:end] == policy_markdown(default_policy())


def test_read_alone_does_not_search_inside_files() -> None:
    """What the README and the permissions page say of `read` holds in the policy:
    content search and diffs need read + execute, `/find/file` only read."""
    from core.authz.policy import default_policy
    from core.model.permissions import Permission

    policy = default_policy()
    read_execute = frozenset({Permission.READ, Permission.EXECUTE})
    for path in ("/find", "/vcs/diff", "/session/x/diff"):
        assert policy.classify("GET", path).needs == read_execute, path
    assert policy.classify("GET", "/find/file").needs == frozenset({Permission.READ})
    assert "`/find` and diffs" in README and "need read + execute" in README


def test_the_gateway_options_table_is_every_option() -> None:
    """docs/gateway.md lists each option `gateway --help` has, and no other."""
    help_text = subprocess.run(
        [sys.executable, "-m", "core", "gateway", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    ).stdout
    options = set(re.findall(r"^\s{2}(--[a-z][a-z-]*)", help_text, flags=re.M)) - {"--help"}
    page = _page("gateway.md")
    table = page[page.index("<!-- gateway-options") : page.index("<!-- /gateway-options -->")]
    documented = set(re.findall(r"^\| `(--[a-z][a-z-]*)", table, flags=re.M))
    documented |= set(re.findall(r", `(--[a-z][a-z-]*)", table))
    assert documented == options


def test_the_nginx_and_caddy_pages_configs_are_the_tested_ones() -> None:
    """The headers that make forward-auth safe behind each proxy are in the page's
    configs and in the ones the tests run (test_real_nginx.py compares them whole)."""
    tested = (ROOT / "tests" / "gateway" / "real_servers.py").read_text()
    page = _page("nginx-and-caddy.md")
    for line in (
        "proxy_set_header X-Original-Host $http_host;",
        "proxy_set_header Host $http_host;",
    ):
        assert line in page and line in tested
    for line in ("header_up -X-Original-Host", "copy_headers {", "header_down +Content-Sec"):
        assert line in page and line in tested
