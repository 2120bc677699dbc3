"""`token check METHOD TARGET`: decide a request as a server would, with the token
read from stdin (never the command line, where it lands in shell history).

Exit 0 allowed, 1 denied, like `test`; `--json` prints the decision as the
gateway logs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cli.command import Command, absolute_directories, add_command
from core.cli.console import Console
from core.cli.exits import EXIT_NOT_FOUND, EXIT_OK, UsageError
from core.cli.output import emit_json, holds_secret
from core.cli.store_access import kept_files, open_named, warn_about_mode
from core.model.permissions import Permission

if TYPE_CHECKING:
    from core.authz.authorizer import CachedAuthorizer
    from core.authz.decision import Decision
    from core.cli.command import Subcommands


@dataclass(frozen=True)
class CheckOptions:
    store: str | None
    method: str
    path: str
    directory: str | None
    json: bool


def _read_token(console: Console) -> str:
    """The token to check, from stdin: typed unseen at a terminal, else one line."""
    if console.stdin_isatty:
        return console.read_secret("Token: ").strip()
    return console.stdin.readline(4096).strip()


def check(options: CheckOptions, console: Console) -> int:
    from core.authz.authorizer import CachedAuthorizer
    from core.authz.protected import protected_paths
    from core.authz.scope import ServerScope

    store = open_named(options.store)
    warn_about_mode(store, console)
    directory = None
    if options.directory is not None:
        directory = (absolute_directories([options.directory]) or [""])[0]
        if not directory:
            raise UsageError("--directory: give a directory")
    if holds_secret(options.path) or holds_secret(options.method):
        raise UsageError(
            "that looks like a token secret on the command line, where it lands in shell "
            "history: `check` reads the token from stdin (give METHOD TARGET as arguments)"
        )
    token = _read_token(console)
    header = f"Bearer {token}" if token else None
    method = options.method.upper()
    # Decided as a server would, but the server's roots are the server's: only
    # the token's directories (with --directory, or a directory the target
    # names) and the paths no server ever serves are applied.
    protected = protected_paths(kept_files(store))
    scope = ServerScope(roots=None, default_directory=directory, protected=protected)
    authorizer = CachedAuthorizer(store.new_reader(), clock=store.clock, scope=scope)
    decision = authorizer.decide(header, method, options.path)
    if options.json:
        emit_json(console, decision.as_dict())
    else:
        print(_verdict(authorizer, decision, method), file=console.stdout)
    return EXIT_OK if decision.allowed else EXIT_NOT_FOUND


def _verdict(authorizer: CachedAuthorizer, decision: Decision, method: str) -> str:
    """`403 insufficient_scope: denied by GET /session (...)`: the status, the
    reason, the rule, and why."""
    from core.authz.decision import Reason

    verdict = "allowed" if decision.allowed else "denied"
    required = ",".join(p.value for p in Permission if p in decision.required) or "nothing"
    granted = ",".join(p.value for p in Permission if p in decision.granted) or "nothing"
    if decision.reason is Reason.METHOD_NOT_ALLOWED:
        detail = f"{method} is not one of the methods opencode serves"
    else:
        detail = f"{method} {decision.path} needs {required}"
    if decision.token_id is not None:
        detail += f"; token {decision.token_id} has {granted}"
    line = f"{decision.status} {decision.reason.value}: {verdict} by {decision.rule} ({detail})"
    why = _why(authorizer, decision)
    return f"{line}: {why}" if why else line


def _why(authorizer: CachedAuthorizer, decision: Decision) -> str | None:
    """What `check` adds to its line: the policy row's reason for a missing
    permission, else the decision's own message."""
    from core.authz.decision import Reason

    if decision.allowed:
        return None
    if decision.reason is Reason.INSUFFICIENT_SCOPE:
        rule = next((r for r in authorizer.policy if r.name == decision.rule), None)
        if rule is None:
            return "no policy row names this operation, so it needs all three permissions"
        return str(rule.reason)
    return None if decision.message is None else str(decision.message)


def register(tokens: Subcommands) -> None:
    p = add_command(
        tokens,
        "check",
        Command(CheckOptions, check),
        "decide a request as the server would; the token is read from stdin",
    )
    p.add_argument("method", metavar="METHOD", help="HTTP method, e.g. GET")
    p.add_argument(
        "path", metavar="TARGET", help="request path and query, e.g. /file/content?path=a.py"
    )
    p.add_argument(
        "--directory",
        metavar="D",
        help="decide as for a request working in directory D (applies the token's directories)",
    )
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
