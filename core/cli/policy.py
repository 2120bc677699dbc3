"""`policy [--json | --markdown | --diff OPENAPI_JSON]`: the opencode route policy,
as a table for people, JSON for programs, the README's table of what each
permission allows, or what a newer opencode's API needs decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cli.command import Command, add_command
from core.cli.console import Console
from core.cli.exits import EXIT_NOT_FOUND, EXIT_OK
from core.cli.output import emit_json
from core.model.permissions import Permission

if TYPE_CHECKING:
    from core.authz.policy import Policy, Rule
    from core.cli.command import Subcommands


@dataclass(frozen=True)
class PolicyOptions:
    json: bool
    markdown: bool
    diff: str | None


def policy(options: PolicyOptions, console: Console) -> int:
    from core.authz.policy import default_policy

    out = console.stdout
    rules = default_policy()
    if options.diff is not None:
        from core.authz.policy_diff import diff_document, read_document, saved_document

        report = diff_document(
            rules, read_document(options.diff), options.diff, saved=saved_document(rules)
        )
        if options.json:
            emit_json(console, report.as_dict())
        else:
            for line in report.lines():
                print(line, file=out)
        return EXIT_OK if report.empty else EXIT_NOT_FOUND
    if options.markdown:
        print(policy_markdown(rules), end="", file=out)
        return EXIT_OK
    if options.json:
        emit_json(
            console,
            {
                "opencode": rules.opencode_version,
                "unclassified": {
                    "needs": ["read", "write", "execute"],
                    "reason": rules.unclassified_reason,
                },
                "operations": [rule.as_dict() for rule in rules],
            },
        )
        return EXIT_OK
    print(
        f"The route policy for opencode {rules.opencode_version} ({len(rules)} operations):",
        file=out,
    )
    print(file=out)
    for rule in sorted(rules, key=_by_path):
        needs = "+".join(p.value for p in Permission if p in rule.needs)
        print(f"{rule.method:<7}{rule.path:<56} {needs:<14} {rule.reason}", file=out)
    print(file=out)
    counts = ", ".join(f"{n} need {k}" for k, n in sorted(rules.counts().items()))
    print(f"{counts}; any other method and path needs read+write+execute (unclassified).", file=out)
    return EXIT_OK


# --- the README's table ------------------------------------------------------------

_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


def _by_path(rule: Rule) -> tuple[str, int]:
    return (rule.path, _METHOD_ORDER.get(rule.method, 9))


_CLASSES = (
    (
        "read",
        "look at the project: list and read its files (not opencode's config files), find "
        "files by name, git status, agents, commands, skills and tools, language and MCP "
        "servers' status, the web app's files. Never credentials, config or session content",
    ),
    (
        "write",
        "write a line to opencode's log, run `git init`. Nothing that runs code or "
        "changes what runs",
    ),
    (
        "read, execute",
        "read what holds credentials or session content: the config and opencode's config "
        "files, provider listings (with their keys), searches inside files and diffs (which "
        "reach those files), event streams, sessions and messages, terminals, pending "
        "permission requests and questions",
    ),
    (
        "write, execute",
        "run code and steer the agent (prompts, shell, terminals), and change "
        "what opencode runs or which credentials it uses: config, MCP servers, worktrees and "
        "workspaces, `vcs/apply`, project commands, permission and question replies, `/tui` "
        "control, dispose, upgrade, provider and integration credentials",
    ),
)
"""What each class of operation lets a token do, in the README's words."""


def policy_markdown(policy: Policy) -> str:
    """The README's table: what each permission lets a token do (`policy --markdown`;
    tests/test_readme.py holds the README to it)."""
    lines = [
        f"| a token with | can, on opencode {policy.opencode_version} | the operations |",
        "| --- | --- | --- |",
        "| no token at all | see that the server is up, and its version | `GET /global/health` |",
    ]
    for needs, words in _CLASSES:
        wanted = {Permission(p.strip()) for p in needs.split(",")}
        rules = sorted((r for r in policy if set(r.needs) == wanted and not r.public), key=_by_path)
        listed = ", ".join(f"`{r.method} {r.path}`" for r in rules)
        lines.append(f"| {needs.replace(', ', ' + ')} | {words} | {len(rules)}: {listed} |")
    rules = sorted((r for r in policy if set(r.needs) == set(Permission)), key=_by_path)
    listed = ", ".join(f"`{r.method} {r.path}`" for r in rules)
    lines.append(
        "| read + write + execute | attach to a terminal (its output, and keystrokes into "
        "it); and anything no row names (a newer opencode's operation, a web-app link) | "
        f"{len(rules)}: {listed}; and every unclassified method and path |"
    )
    return "\n".join(lines) + "\n"


def register(commands: Subcommands) -> None:
    p = add_command(
        commands,
        "policy",
        Command(PolicyOptions, policy),
        "print the opencode route policy: what each permission lets a token do",
    )
    p.add_argument("--json", action="store_true", help="print the policy as JSON")
    p.add_argument(
        "--markdown", action="store_true", help="print the README's table of what each allows"
    )
    p.add_argument(
        "--diff",
        metavar="OPENAPI_JSON",
        help="compare a newer opencode's GET /doc with the policy; list what needs a decision "
        "(exit 1 if anything does)",
    )
