"""The README is part of the product: its commands must be the ones CI runs, and its
examples must be true to the token format."""

from __future__ import annotations

import re
from pathlib import Path

from core.model.token_format import check_format

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    commands = [
        line for block in _shell_blocks(README) for line in block.splitlines() if "pytest" in line
    ]
    assert len(commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0].strip() in ci


def test_readme_install_command_runs_the_tool() -> None:
    first = _shell_blocks(README)[0].strip()
    assert first.startswith("python3 -m venv .venv")
    assert first.endswith("opencode-auth-tui")


def test_example_tokens_are_well_formed() -> None:
    examples = re.findall(r"ocat_[0-9A-Za-z]{20,}", README)
    assert examples
    for token in examples:
        assert check_format(token) is None, token


def test_the_permission_table_is_the_policy() -> None:
    """The README's table of what each permission allows is generated from the
    policy file (`opencode-auth-tui policy --markdown`), so it cannot drift."""
    from core.authz.policy import default_policy
    from core.cli.policy import policy_markdown

    start = README.index("<!-- policy-table")
    start = README.index("\n", start) + 1
    end = README.index("<!-- /policy-table -->")
    assert README[start:end] == policy_markdown(default_policy())


def test_the_readme_nginx_and_caddy_configs_are_the_tested_ones() -> None:
    # the configs the tests start nginx and Caddy with
    tested = (ROOT / "tests" / "gateway" / "real_servers.py").read_text()
    for line in (
        "proxy_set_header X-Original-Host $http_host;",
        "proxy_set_header Host $http_host;",
    ):
        assert line in README and line in tested
    for line in ("header_up -X-Original-Host", "copy_headers {", "header_down +Content-Sec"):
        assert line in README and line in tested
