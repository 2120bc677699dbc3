"""`policy [--json | --markdown | --diff OPENAPI_JSON]`: the opencode route policy,
as a table for people, JSON for programs, docs/permissions.md's table of what each
permission allows, or what a newer opencode's API needs decided.

`policy --presets` (with `--json` or `--markdown`) shows the presets instead
(core/authz/presets.py): a flag of `policy`, because what a preset lets a client
do is the policy's answer, counted here from its rows - and a person who reads
`policy --help` to learn what a permission does finds them there.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cli.command import Command, add_command
from core.cli.console import Console
from core.cli.exits import EXIT_NOT_FOUND, EXIT_OK, UsageError
from core.cli.output import PROG, emit_json
from core.model.permissions import Permission
from core.present import permission_letters

if TYPE_CHECKING:
    from core.authz.policy import Policy, Rule
    from core.cli.command import Subcommands


@dataclass(frozen=True)
class PolicyOptions:
    json: bool
    markdown: bool
    diff: str | None
    presets: bool


def policy(options: PolicyOptions, console: Console) -> int:
    from core.authz.policy import default_policy

    out = console.stdout
    rules = default_policy()
    if options.presets:
        if options.diff is not None:
            raise UsageError("--presets and --diff exclude each other: give one")
        return _presets(rules, options, console)
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
    counts = ", ".join(
        f"{n} need{'s' if n == 1 else ''} {k}" for k, n in sorted(rules.counts().items())
    )
    print(f"{counts}; any other method and path needs read+write+execute (unclassified).", file=out)
    print(f"Permission sets for common clients: {PROG} policy --presets", file=out)
    return EXIT_OK


# --- the presets ---------------------------------------------------------------------


def _presets(rules: Policy, options: PolicyOptions, console: Console) -> int:
    from core.authz.presets import PRESETS

    out = console.stdout
    if options.markdown:
        print(presets_markdown(rules), end="", file=out)
        return EXIT_OK
    if options.json:
        emit_json(
            console,
            [
                {
                    "name": p.name,
                    "title": p.title,
                    "permissions": [perm.value for perm in p.permissions],
                    "purpose": p.purpose,
                    "operations": len(p.operations(rules)),
                }
                for p in PRESETS
            ],
        )
        return EXIT_OK
    print(
        f"The permissions each kind of client needs, on opencode {rules.opencode_version}.",
        file=out,
    )
    print(f"Give one to a token with: {PROG} token create NAME --preset PRESET", file=out)
    for p in PRESETS:
        passed = len(p.operations(rules))
        reach = f"{'all' if passed == len(rules) else f'{passed} of'} {len(rules)} operations"
        print(file=out)
        print(f"  {p.name:<6} {p.title:<22} {permission_letters(p.permissions)}  {reach}", file=out)
        for line in textwrap.wrap(
            p.purpose, width=80, initial_indent=" " * 9, subsequent_indent=" " * 9
        ):
            print(line, file=out)
    return EXIT_OK


def presets_markdown(rules: Policy) -> str:
    """docs/permissions.md's table of presets (`policy --presets --markdown`;
    tests/cli holds the page to it)."""
    from core.authz.presets import PRESETS

    lines = [
        "| preset | permissions | for | operations it passes |",
        "| --- | --- | --- | --- |",
    ]
    for p in PRESETS:
        perms = ", ".join(perm.value for perm in p.permissions)
        lines.append(
            f"| `{p.name}` ({p.title}) | {perms} | {p.purpose} | "
            f"{len(p.operations(rules))} of {len(rules)} |"
        )
    return "\n".join(lines) + "\n"


# --- docs/permissions.md's table ------------------------------------------------------------

_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


def _by_path(rule: Rule) -> tuple[str, int]:
    return (rule.path, _METHOD_ORDER.get(rule.method, 9))


_CLASSES = (
    (
        "read",
        "look at the project: list and read its files (not opencode's config files), find "
        "files by name, git status, language servers' and formatters' status, the web app's "
        "files. Never credentials, config or session content, and never a program of the "
        "config started",
    ),
    (
        "write",
        "write a line to opencode's log, run `git init`. Nothing that runs code or "
        "changes what runs",
    ),
    (
        "read, execute",
        "read what holds credentials, config or session content: the config and opencode's "
        "config files, provider and model listings (with their keys), agents, commands, "
        "skills and tools (their prompts and text; listing tools imports the config's tool "
        "files), MCP servers' status (asking starts them), searches inside files and diffs "
        "(which reach those files), event streams, sessions and messages, terminals, pending "
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
"""What each class of operation lets a token do, in docs/permissions.md's words."""


def policy_markdown(policy: Policy) -> str:
    """docs/permissions.md's table: what each permission lets a token do (`policy
    --markdown`; tests/test_readme.py holds the page to it)."""
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
        "it), take an attached TUI's next control request; and anything no row names (a "
        "newer opencode's operation, a web-app link) | "
        f"{len(rules)}: {listed}; and every unclassified method and path |"
    )
    return "\n".join(lines) + "\n"


def register(commands: Subcommands) -> None:
    p = add_command(
        commands,
        "policy",
        Command(PolicyOptions, policy),
        "print the opencode route policy: what each permission lets a token do",
        store=False,
    )
    p.add_argument("--json", action="store_true", help="print the policy as JSON")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print docs/permissions.md's table of what each allows",
    )
    p.add_argument(
        "--diff",
        metavar="OPENAPI_JSON",
        help="compare a newer opencode's GET /doc with the policy; list what needs a decision "
        "(exit 1 if anything does)",
    )
    p.add_argument(
        "--presets",
        action="store_true",
        help="print the presets (token create --preset NAME): the permissions each kind of "
        "client needs, and how many operations each passes",
    )
