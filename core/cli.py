"""The `opencode-auth-tui` command: a thin headless edge over core.

Everything a user can get wrong ends here as one line on stderr and an exit code:

    0 success   1 not found / denied   2 usage or input error   3 store problem

Errors are turned into exit codes in one place (`_exit_code`). core never imports
the UI: the console script (`tui/launcher.py`) passes `main` a `launch_tui`
function, used by the `tui` command and by a bare `opencode-auth-tui` on a
terminal. `python -m core` passes none, so it is purely headless.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any, NoReturn

from core import __version__
from core.model.errors import (
    AuthTuiError,
    InputError,
    LegacyStoreFound,
    StoreError,
    TokenNotFound,
)
from core.model.expiry import DEFAULT_EXPIRY
from core.model.permissions import Permission
from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls, format_timestamp
from core.present import fit, relative_time, safe_json
from core.store import Issued, Snapshot, Store, TokenStore, file_warnings
from core.store.location import ENV_VAR, URL_ENV_VAR, resolve_store, resolve_store_path

PROG = "opencode-auth-tui"

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # also: request denied by `token check`
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]
TuiLauncher = Callable[[Store], int]


class UsageError(Exception):
    """A usage problem found after parsing (exit code 2)."""


# --- output ----------------------------------------------------------------------


def _color_enabled(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def _style(text: str, code: str, stream: IO[str]) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if _color_enabled(stream) else text


def _err(message: str) -> None:
    print(f"{PROG}: {_style('error:', '31', sys.stderr)} {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"{PROG}: {_style('warning:', '33', sys.stderr)} {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _print_json(data: Any) -> None:
    print(safe_json(data))


_STATUS_STYLE = {TokenStatus.EXPIRING: "33", TokenStatus.EXPIRED: "31"}
_PERM_LETTERS = ((Permission.READ, "r"), (Permission.WRITE, "w"), (Permission.EXECUTE, "x"))


def perm_letters(record: TokenRecord) -> str:
    """`rwx`, `r--`, `r-x`: compact permissions for the 80-column table."""
    return "".join(letter if perm in record.permissions else "-" for perm, letter in _PERM_LETTERS)


def _describe_expiry(record: TokenRecord, now: datetime) -> str:
    if record.expires_at is None:
        return "never expires"
    verb = "expired" if record.is_expired(now) else "expires"
    when = relative_time(record.expires_at, now)
    return f"{verb} {format_timestamp(record.expires_at)} ({when})"


_COLUMNS = (
    ("ID", 8),
    ("NAME", 22),
    ("PERMS", 5),
    ("EXPIRES", 15),
    ("STATUS", 8),
    ("LAST USED", 12),
)


def _table(records: Sequence[TokenRecord], now: datetime) -> list[str]:
    """An aligned table that fits 80 columns; names escaped and cut to fit.

    Written for 100,000 rows: what repeats (the permissions, the status cell and
    its colour) is worked out once, and each row is one f-string."""
    gap = "  "
    lines = [gap.join(fit(title, width) for title, width in _COLUMNS).rstrip()]
    colored = _color_enabled(sys.stdout)
    status_cell = {
        status: (
            f"\x1b[{_STATUS_STYLE[status]}m{fit(status.value, 8)}\x1b[0m"
            if colored and status in _STATUS_STYLE
            else fit(status.value, 8)
        )
        for status in TokenStatus
    }
    perms_cell: dict[tuple[Permission, ...], str] = {}
    for record in records:
        perms = perms_cell.get(record.permissions)
        if perms is None:
            perms = perms_cell[record.permissions] = fit(perm_letters(record), 5)
        expires = "never" if record.expires_at is None else relative_time(record.expires_at, now)
        used = "never" if record.last_used_at is None else relative_time(record.last_used_at, now)
        name = record.name
        if not name.isascii() or not name.isprintable():
            name = escape_controls(name)
        lines.append(
            f"{fit(record.id, 8)}{gap}{fit(name, 22)}{gap}{perms}{gap}{fit(expires, 15)}"
            f"{gap}{status_cell[record.status(now)]}{gap}{fit(used, 12)}".rstrip()
        )
        if record.directories:  # only in these directories: said under the row
            lines.append(fit("          in " + describe_directories(record), 80).rstrip())
    return lines


def _label(record: TokenRecord) -> str:
    return f"'{escape_controls(record.name)}' (id {record.id})"


# --- confirmation ----------------------------------------------------------------


def _confirm(question: str, *, yes: bool) -> bool:
    """True if confirmed: `--yes`, or `y` typed at a terminal. Without a terminal
    and without --yes, refuse (exit 2) rather than guess."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to proceed without confirmation: stdin is not a terminal; pass --yes"
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


# --- commands --------------------------------------------------------------------


def _store(args: argparse.Namespace) -> Store:
    """The store `--store` / the environment name: the file, or a database."""
    from core.store.engines import open_store

    _check_store_flag(args)
    return open_store(resolve_store(args.store))


def _check_store_flag(args: argparse.Namespace) -> None:
    if args.store is not None and not args.store.strip():
        # `--store "$UNSET"` must not quietly mean the real store.
        raise UsageError(
            "--store is empty: give the store file's path or a postgresql:// URL, or leave it out"
        )


def _warn_if_useless(permissions: Sequence[Permission]) -> None:
    from core.model.permissions import passes_nothing

    why = passes_nothing(permissions)
    if why is not None:
        _warn(why)


def _load(store: Store) -> Snapshot:
    snapshot = store.load()
    for warning in snapshot.warnings:
        _warn(warning)
    return snapshot


def _warn_about_file(store: Store) -> None:
    """Mode warnings for commands that read the store anyway (create, rotate,
    check): a stat, not a second read of the whole file (a database has none)."""
    if isinstance(store, TokenStore):
        for warning in file_warnings(store.path):
            _warn(warning)


def _show_issued(issued: Issued, args: argparse.Namespace, store: Store, verb: str) -> None:
    record, secret = issued.record, issued.secret
    if args.quiet:
        print(secret.reveal())
        return
    if args.json:
        data = record.public_dict(store.now())
        data["token"] = secret.reveal()
        _print_json(data)
    else:
        perms = ", ".join(p.value for p in record.permissions)
        print(f"{verb} token {_label(record)}: {perms}; {_describe_expiry(record, store.now())}")
        print()
        print(f"    {secret.reveal()}")
        print()
    _note("Copy this token now: it will not be shown again.")


def _directories_arg(values: Sequence[str] | None) -> list[str] | None:
    """`--directory` values as absolute paths (`~` expanded, relative ones taken
    from the current folder, as a shell user means them)."""
    if values is None:
        return None
    out = []
    for value in values:
        expanded = os.path.expanduser(value.strip())
        out.append(os.path.normpath(os.path.abspath(expanded)) if expanded else "")
    return out


def cmd_create(args: argparse.Namespace) -> int:
    store = _store(args)
    _warn_about_file(store)
    issued = store.create(
        name=args.name,
        permissions=args.permissions,
        expires=args.expires,
        note=args.note,
        directories=_directories_arg(args.directories) or (),
    )
    _show_issued(issued, args, store, "Created")
    _warn_if_useless(issued.record.permissions)
    return EXIT_OK


def cmd_edit(args: argparse.Namespace) -> int:
    store = _store(args)
    _warn_about_file(store)
    if args.all_directories and args.directories:
        raise UsageError("--directory and --all-directories exclude each other: give one")
    directories = [] if args.all_directories else _directories_arg(args.directories)
    edited = store.edit(
        args.ref,
        name=args.name,
        note=args.note,
        permissions=args.permissions,
        directories=directories,
        expires=args.expires,
    )
    record = edited.after
    if "permissions" in edited.changed:
        _warn_if_useless(record.permissions)
    if args.json:
        _print_json(record.public_dict(store.now()))
        return EXIT_OK
    if not edited.changed:
        _note(f"Token {_label(record)} already has those settings; nothing changed.")
        return EXIT_OK
    fields = ", ".join(_FIELD_WORDS.get(name, name) for name in edited.changed)
    print(f"Edited token {_label(record)}: {fields}. Its secret is unchanged.")
    for key, value in _detail_rows(record, store.now()):
        if key in ("name", "note", "permissions", "directories", "expires"):
            print(f"  {key:<12} {value}")
    return EXIT_OK


_FIELD_WORDS = {"expires_at": "expiry", "directories": "directories", "note": "note"}


JSON_FIELDS = (
    "id",
    "name",
    "permissions",
    "created_at",
    "expires_at",
    "last_used_at",
    "hint",
    "legacy",
    "note",
    "directories",
    "status",
)


def _json_fields(value: str | None) -> tuple[str, ...] | None:
    """`--json` alone: every field; `--json id,name,status`: those, in that order."""
    if value is None or value == "":
        return None
    fields = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in fields if f not in JSON_FIELDS]
    if unknown or not fields:
        shown = escape_controls(", ".join(unknown)) if unknown else "(none)"
        raise UsageError(f"--json: unknown field {shown}; choose from {','.join(JSON_FIELDS)}")
    return fields


def _record_json(record: TokenRecord, now: datetime, fields: tuple[str, ...] | None) -> Any:
    data = record.public_dict(now)
    return data if fields is None else {f: data[f] for f in fields}


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    fields = _json_fields(args.json) if args.json is not False else None
    snapshot = _load(store)
    now = store.now()
    if args.json is not False:
        _print_json([_record_json(record, now, fields) for record in snapshot.records])
        return EXIT_OK
    if not snapshot.records:
        _note(f"No tokens in {store.location}.")
        _note(f"Create one with: {PROG} token create --name NAME")
        return EXIT_OK
    sys.stdout.write("\n".join(_table(snapshot.records, now)) + "\n")
    return EXIT_OK


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{format_timestamp(moment)} ({relative_time(moment, now)})"


def describe_directories(record: TokenRecord) -> str:
    if not record.directories:
        return "every directory the server serves"
    return ", ".join(escape_controls(d) for d in record.directories)


def _abilities(record: TokenRecord) -> str:
    from pathlib import Path

    from core.present import abilities

    found = abilities(record.permissions, record.directories, Path.home())
    can = "; ".join(found.can) or "nothing"
    return f"can {can}" + (f"; cannot {', '.join(found.cannot)}" if found.cannot else "")


def _detail_rows(record: TokenRecord, now: datetime) -> list[tuple[str, str]]:
    rows = [
        ("id", record.id),
        ("name", escape_controls(record.name)),
        ("note", "none" if record.note is None else escape_controls(record.note)),
        ("permissions", ", ".join(p.value for p in record.permissions)),
        ("directories", describe_directories(record)),
        ("on opencode", _abilities(record)),
        ("status", record.status(now).value),
        ("created", _when(record.created_at, now)),
        ("expires", _when(record.expires_at, now)),
        ("last used", _when(record.last_used_at, now)),
        ("hint", escape_controls(record.hint)),
    ]
    if record.legacy:
        rows.append(("format", "legacy PR #8217 secret (rotate it to get an ocat_ token)"))
    return rows


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    fields = _json_fields(args.json) if args.json is not False else None
    record = _load(store).require(args.ref)
    now = store.now()
    if args.json is not False:
        _print_json(_record_json(record, now, fields))
        return EXIT_OK
    for key, value in _detail_rows(record, now):
        print(f"{key:<12} {value}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store(args)
    snapshot = _load(store)
    doomed: dict[str, TokenRecord] = {}
    for ref in args.refs:
        record = snapshot.require(ref)
        doomed[record.id] = record
    listing = ", ".join(_label(r) for r in doomed.values())
    noun = "token" if len(doomed) == 1 else f"{len(doomed)} tokens"
    if not _confirm(
        f"Delete {noun} {listing}? Clients using it will be refused at once.", yes=args.yes
    ):
        _note("Nothing deleted.")
        return EXIT_OK
    for record in store.delete(list(doomed)):
        print(f"Deleted token {_label(record)}")
    return EXIT_OK


def cmd_rotate(args: argparse.Namespace) -> int:
    store = _store(args)
    _warn_about_file(store)
    issued = store.rotate(
        args.ref, expires=args.expires, directories=_directories_arg(args.directories)
    )
    _show_issued(issued, args, store, "Rotated")
    if not args.quiet:
        _note("The previous secret no longer works.")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    store = _store(args)
    now = store.now()
    expired = [r for r in _load(store).records if r.is_expired(now)]
    if not expired:
        _note("No expired tokens.")
        return EXIT_OK
    listing = ", ".join(_label(r) for r in expired)
    noun = "expired token" if len(expired) == 1 else f"{len(expired)} expired tokens"
    if not _confirm(f"Delete {noun}: {listing}?", yes=args.yes):
        _note("Nothing deleted.")
        return EXIT_OK
    for record in store.prune(only={r.id for r in expired}):
        print(f"Deleted expired token {_label(record)}")
    return EXIT_OK


def _read_token_from_stdin() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Token: ").strip()
    line = sys.stdin.readline(4096)
    return line.strip()


def cmd_check(args: argparse.Namespace) -> int:
    from core.authz.authorizer import CachedAuthorizer
    from core.authz.scope import ServerScope, protected_paths

    store = _store(args)
    _warn_about_file(store)
    directory = None
    if args.directory is not None:
        directory = _directories_arg([args.directory])[0]  # type: ignore[index]
        if not directory:
            raise UsageError("--directory: give a directory")
    if _TOKEN_LIKE.search(args.path) or _TOKEN_LIKE.search(args.method):
        raise UsageError(
            "that looks like a token secret on the command line, where it lands in shell "
            "history: `check` reads the token from stdin (give METHOD TARGET as arguments)"
        )
    token = _read_token_from_stdin()
    header = f"Bearer {token}" if token else None
    method = args.method.upper()
    # Decided as a server would, but the server's roots are the server's: only
    # the token's directories (with --directory, or a directory the target
    # names) and the paths no server ever serves are applied.
    file = store.path if isinstance(store, TokenStore) else None
    scope = ServerScope(roots=None, default_directory=directory, protected=protected_paths(file))
    authorizer = CachedAuthorizer(
        store.new_reader() if file is None else file, clock=store.clock, scope=scope
    )
    decision = authorizer.decide(header, method, args.path)
    if args.json:
        _print_json(decision.as_dict())
    else:
        verdict = "allowed" if decision.allowed else "denied"
        required = ",".join(p.value for p in Permission if p in decision.required) or "nothing"
        granted = ",".join(p.value for p in Permission if p in decision.granted) or "nothing"
        from core.authz.decision import Reason

        if decision.reason is Reason.METHOD_NOT_ALLOWED:
            detail = f"{method} is not one of the methods opencode serves"
        else:
            detail = f"{method} {decision.path} needs {required}"
        if decision.token_id is not None:
            detail += f"; token {decision.token_id} has {granted}"
        line = f"{decision.status} {decision.reason.value}: {verdict} by {decision.rule} ({detail})"
        why = _why(authorizer, decision)
        print(f"{line}: {why}" if why else line)
    return EXIT_OK if decision.allowed else EXIT_NOT_FOUND


def _why(authorizer: Any, decision: Any) -> str | None:
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


def cmd_policy(args: argparse.Namespace) -> int:
    from core.authz.policy import default_policy

    policy = default_policy()
    if args.diff is not None:
        from core.authz.policy_diff import diff_document, read_document, saved_document

        report = diff_document(
            policy, read_document(args.diff), args.diff, saved=saved_document(policy)
        )
        if args.json:
            _print_json(report.as_dict())
        else:
            for line in report.lines():
                print(line)
        return EXIT_OK if report.empty else EXIT_NOT_FOUND
    if args.markdown:
        print(policy_markdown(policy), end="")
        return EXIT_OK
    if args.json:
        _print_json(
            {
                "opencode": policy.opencode_version,
                "unclassified": {
                    "needs": ["read", "write", "execute"],
                    "reason": policy.unclassified_reason,
                },
                "operations": [rule.as_dict() for rule in policy],
            }
        )
        return EXIT_OK
    print(f"The route policy for opencode {policy.opencode_version} ({len(policy)} operations):")
    print()
    for rule in sorted(policy, key=lambda r: (r.path, _METHOD_ORDER.get(r.method, 9))):
        needs = "+".join(p.value for p in Permission if p in rule.needs)
        print(f"{rule.method:<7}{rule.path:<56} {needs:<14} {rule.reason}")
    print()
    counts = ", ".join(f"{n} need {k}" for k, n in sorted(policy.counts().items()))
    print(f"{counts}; any other method and path needs read+write+execute (unclassified).")
    return EXIT_OK


_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
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


def policy_markdown(policy: Any) -> str:
    """The README's table: what each permission lets a token do (`policy --markdown`)."""
    lines = [
        f"| a token with | can, on opencode {policy.opencode_version} | the operations |",
        "| --- | --- | --- |",
        "| no token at all | see that the server is up, and its version | `GET /global/health` |",
    ]
    for needs, words in _CLASSES:
        wanted = {Permission(p.strip()) for p in needs.split(",")}
        rules = sorted(
            (r for r in policy if set(r.needs) == wanted and not r.public),
            key=lambda r: (r.path, _METHOD_ORDER.get(r.method, 9)),
        )
        listed = ", ".join(f"`{r.method} {r.path}`" for r in rules)
        lines.append(f"| {needs.replace(', ', ' + ')} | {words} | {len(rules)}: {listed} |")
    rules = sorted(
        (r for r in policy if set(r.needs) == set(Permission)),
        key=lambda r: (r.path, _METHOD_ORDER.get(r.method, 9)),
    )
    listed = ", ".join(f"`{r.method} {r.path}`" for r in rules)
    lines.append(
        "| read + write + execute | attach to a terminal (its output, and keystrokes into "
        "it); and anything no row names (a newer opencode's operation, a web-app link) | "
        f"{len(rules)}: {listed}; and every unclassified method and path |"
    )
    return "\n".join(lines) + "\n"


def cmd_migrate(args: argparse.Namespace) -> int:
    if args.to is not None:
        return _migrate_to(args)
    store = _store(args)
    if not isinstance(store, TokenStore):
        raise UsageError(
            "migrate converts a PR #8217 token file, and this store is a database: "
            "give --store FILE, or copy a file into the database with migrate --to URL"
        )
    try:
        snapshot = _load(store)
    except LegacyStoreFound as found:
        question = (
            f"{store.path} {found.problem}. Convert it, hashing every secret "
            "(a 0600 backup of the original is kept)?"
        )
        if not _confirm(question, yes=args.yes):
            _note("Nothing changed.")
            return EXIT_OK
        migration = store.migrate()
        print(f"Migrated {len(migration.records)} tokens; the old secrets keep working.")
        if migration.unusable:
            names = ", ".join(f"'{escape_controls(name)}'" for name in migration.unusable)
            _warn(
                f"the old secrets of {names} cannot be sent as bearer tokens "
                "(unusual characters or length); rotate them to use them again"
            )
        _warn(
            f"the backup {migration.backup} holds the old secrets in plain text; "
            "delete it once you have checked the migration"
        )
        return EXIT_OK
    if not snapshot.exists:
        _err(f"{store.path} does not exist; there is nothing to migrate")
        return EXIT_NOT_FOUND
    _note(f"{store.path} is already in the current format; nothing to migrate.")
    return EXIT_OK


def _migrate_to(args: argparse.Namespace) -> int:
    """Copy the JSON store file into a database (idempotent)."""
    from core.store.engines import open_store
    from core.store.pg.url import check_url, is_database_url

    if not is_database_url(args.to):
        raise UsageError("migrate --to: give the database's postgresql:// URL")
    _check_store_flag(args)
    if args.store is not None and is_database_url(args.store):
        raise UsageError(
            "migrate --to copies a JSON store file into the database: --store must name the "
            "file (default: $OPENCODE_AUTH_TOKENS_FILE, else the XDG path)"
        )
    source = TokenStore(resolve_store_path(args.store))
    snapshot = _load(source)
    if not snapshot.exists:
        _err(f"{source.location} does not exist; there is nothing to copy")
        return EXIT_NOT_FOUND
    target = open_store(check_url(args.to))
    try:
        copied = target.copy_in(snapshot.records)
    finally:
        target.close()
    return _report_copy(copied, source.location, target.location)


def _report_copy(copied: Any, source: str, target: str) -> int:
    total = len(copied.copied) + len(copied.present) + len(copied.conflicts)
    noun = "token" if total == 1 else "tokens"
    print(
        f"{total} {noun} in {source}: {len(copied.copied)} copied to {target}, "
        f"{len(copied.present)} already there (same id and secret), "
        f"{len(copied.conflicts)} in conflict."
    )
    for record, why in copied.conflicts:
        _warn(f"not copied: {_label(record)}: {why}")
    return EXIT_NOT_FOUND if copied.conflicts else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """The store as a JSON store file (version 2): into FILE with the file engine's
    own atomic 0600 writer (merged idempotently into an existing one), or stdout."""
    from core.store import serialize

    store = _store(args)
    try:
        snapshot = _load(store)
    finally:
        store.close()
    if args.to is None:
        sys.stdout.buffer.write(serialize(snapshot.records))
        sys.stdout.flush()
        return EXIT_OK
    if not args.to.strip():
        raise UsageError("export --to is empty: give the file to write")
    from core.store.pg.url import is_database_url

    if is_database_url(args.to):
        raise UsageError(
            "export --to writes a JSON store file; to copy into a database use migrate --to"
        )
    target = TokenStore(resolve_store_path(args.to))
    if isinstance(store, TokenStore) and target.path == store.path:
        raise UsageError("export --to names the store itself; give another file")
    return _report_copy(target.copy_in(snapshot.records), store.location, target.location)


def cmd_db(args: argparse.Namespace) -> int:
    """`db init` / `db upgrade`: create or bring up to date the database's schema."""
    from core.store.engines import open_store
    from core.store.pg.schema import SCHEMA

    _check_store_flag(args)
    location = resolve_store(args.store)
    if not isinstance(location, str):
        raise UsageError(
            f"db {args.db_command} works on a database store: give --store postgresql://... "
            f"or set ${URL_ENV_VAR} (the store is the file {location})"
        )
    store = open_store(location)
    change = store.init_schema() if args.db_command == "init" else store.upgrade_schema()  # type: ignore[attr-defined]
    where = store.location
    outcome = change.outcome
    if outcome == "created":
        print(f"Created the token store (schema {SCHEMA}, version {change.after}) in {where}.")
    elif outcome == "upgraded":
        print(
            f"Upgraded the token store in {where} from version {change.before} to {change.after}."
        )
    elif outcome == "current":
        _note(f"The token store in {where} is already at version {change.after}; nothing to do.")
    elif outcome == "outdated":
        _err(
            f"{where}: the token store is at version {change.before}, older than this build's; "
            f"run: {PROG} --store URL db upgrade"
        )
        return EXIT_STORE
    else:
        _err(f"{where}: the database has no token store yet; run: {PROG} --store URL db init")
        return EXIT_STORE
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from core.model.records import store_json_schema

    _print_json(store_json_schema())
    return EXIT_OK


def cmd_tui(args: argparse.Namespace) -> int:
    launch: TuiLauncher | None = args.launch_tui
    if launch is None:
        raise UsageError(
            "the TUI is opened by the `opencode-auth-tui` command, not `python -m core`"
        )
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the TUI needs an interactive terminal; use the `token` commands in scripts"
        )
    return launch(_store(args))


# --- parser ----------------------------------------------------------------------


_TOKEN_LIKE = re.compile(r"ocat_[0-9A-Za-z]+")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), and a
    token pasted into the wrong place on the command line is not echoed back."""

    def error(self, message: str) -> NoReturn:
        message = _TOKEN_LIKE.sub("ocat_…(redacted)", escape_controls(message))
        _err(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(EXIT_USAGE)


def _add_store_flag(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        default=default,
        help=(
            "token store: a file, or a postgresql:// URL without a password (default: "
            f"${URL_ENV_VAR}, else ${ENV_VAR}, else $XDG_CONFIG_HOME/opencode/auth-tokens.json)"
        ),
    )


def _json_fields_flag(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--json",
        nargs="?",
        const="",
        default=False,
        metavar="FIELDS",
        help=f"{help_text}; with FIELDS (e.g. id,name,status) only those",
    )


def _note_and_directory_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--note", metavar="TEXT", help="what the token is for (up to 200 characters)"
    )
    parser.add_argument(
        "--directory",
        metavar="PATH",
        action="append",
        dest="directories",
        help="a directory the token may use (repeatable); default: every directory the "
        "server serves",
    )


def _output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json", action="store_true", help="print one JSON object including the token"
    )
    group.add_argument(
        "--quiet", action="store_true", help="print only the token (for a file or a pipe)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Per-client API tokens for `opencode serve`. With no arguments on a terminal, "
            "opens the TUI."
        ),
        epilog="Exit codes: 0 ok, 1 not found or denied, 2 usage or input error, 3 store problem.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_store_flag(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(
        sub: Any, name: str, handler: Handler, help_text: str, **kw: Any
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, **kw
        )
        _add_store_flag(p, default=argparse.SUPPRESS)
        p.set_defaults(handler=handler)
        return p

    command(commands, "tui", cmd_tui, "open the TUI")

    token = commands.add_parser(
        "token", help="create, list, show, edit, delete, rotate, prune, check tokens"
    )
    token.set_defaults(handler=lambda _args: _missing_subcommand(token))
    tokens = token.add_subparsers(dest="token_command", metavar="ACTION", parser_class=_Parser)

    p = command(tokens, "create", cmd_create, "create a token; its secret is shown once")
    p.add_argument("--name", help="unique name, 1-64 characters (default: token-N)")
    p.add_argument(
        "--permissions",
        metavar="LIST",
        help="comma-separated subset of read,write,execute (default: all three)",
    )
    p.add_argument(
        "--expires",
        default=DEFAULT_EXPIRY,
        metavar="WHEN",
        help="never, 12h, 30d, 2w, 1y or a future ISO date (default: 90d)",
    )
    _note_and_directory_flags(p)
    _output_flags(p)

    p = command(
        tokens,
        "edit",
        cmd_edit,
        "change a token's name, note, permissions, directories or expiry (same secret)",
    )
    p.add_argument("ref", metavar="ID_OR_NAME")
    p.add_argument("--name", help="a new unique name, 1-64 characters")
    p.add_argument(
        "--permissions", metavar="LIST", help="comma-separated subset of read,write,execute"
    )
    p.add_argument(
        "--expires", metavar="WHEN", help="a new expiry, counted from now (never, 30d, a date)"
    )
    _note_and_directory_flags(p)
    p.add_argument(
        "--all-directories",
        action="store_true",
        help="remove the token's directories: every directory the server serves",
    )
    p.add_argument("--json", action="store_true", help="print the edited record as JSON")

    p = command(tokens, "list", cmd_list, "list tokens (never secrets)")
    _json_fields_flag(p, "print a JSON array of records")

    p = command(tokens, "show", cmd_show, "show one token's metadata (never the secret)")
    p.add_argument("ref", metavar="ID_OR_NAME")
    _json_fields_flag(p, "print a JSON object")

    p = command(
        tokens, "delete", cmd_delete, "delete tokens; clients using them are refused at once"
    )
    p.add_argument("refs", metavar="ID_OR_NAME", nargs="+")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = command(tokens, "rotate", cmd_rotate, "issue a new secret for a token (same id and name)")
    p.add_argument("ref", metavar="ID_OR_NAME")
    p.add_argument(
        "--expires",
        metavar="WHEN",
        help="new expiry (default: the token's original lifetime, from now)",
    )
    p.add_argument(
        "--directory",
        metavar="PATH",
        action="append",
        dest="directories",
        help="new directories for the token (repeatable; default: keep them)",
    )
    _output_flags(p)

    p = command(tokens, "prune", cmd_prune, "delete expired tokens")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = command(
        tokens,
        "check",
        cmd_check,
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

    p = command(
        commands,
        "policy",
        cmd_policy,
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

    p = command(
        commands,
        "migrate",
        cmd_migrate,
        "convert a PR #8217 token file (hashes every secret); with --to, copy the store "
        "file into a database",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--to",
        metavar="URL",
        help="copy the JSON store (--store FILE) into this postgresql:// database; "
        "tokens already there are skipped, conflicting ones reported",
    )

    p = command(
        commands,
        "export",
        cmd_export,
        "write the store as a JSON store file (version 2), e.g. a database's tokens",
    )
    p.add_argument(
        "--to",
        metavar="FILE",
        help="the file to write (atomically, 0600; tokens already in it are kept); default: stdout",
    )

    db = commands.add_parser(
        "db", help="create or upgrade a PostgreSQL store's schema (init, upgrade)"
    )
    db.set_defaults(handler=lambda _args: _missing_subcommand(db))
    dbs = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser)
    command(dbs, "init", cmd_db, "create the token store's schema in the database")
    command(dbs, "upgrade", cmd_db, "bring the database's token store schema up to date")

    command(commands, "schema", cmd_schema, "print the JSON Schema of the store file")

    _register_gateway(commands)
    return parser


def _register_gateway(commands: Any) -> None:
    """`gateway` and `forward-auth` (their modules import aiohttp only when run)."""
    from core.gateway.cli import register

    register(commands, lambda parser: _add_store_flag(parser, default=argparse.SUPPRESS))


_VALUE_FLAGS = frozenset(
    {"--expires", "--name", "--note", "--permissions", "--directory", "--store", "--to"}
)


def _attach_dash_values(args: list[str]) -> list[str]:
    """`--expires -1d` as `--expires=-1d`: argparse would take `-1d` for an option
    and say "expected one argument"; this way the value gets its real error."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        following = args[i + 1] if i + 1 < len(args) else None
        if (
            arg in _VALUE_FLAGS
            and following is not None
            and following.startswith("-")
            and not following.startswith("--")
            and following != "-"
        ):
            out.append(f"{arg}={following}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


# --- entry point -----------------------------------------------------------------


def _exit_code(exc: BaseException) -> int:
    """Every typed error maps to its exit code here, and only here."""
    if isinstance(exc, InputError | UsageError):
        return EXIT_USAGE
    if isinstance(exc, TokenNotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, StoreError):
        return EXIT_STORE
    return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None, *, launch_tui: TuiLauncher | None = None) -> int:
    """Run the CLI; returns the exit code. `launch_tui` opens the TUI (see module doc)."""
    args_list = _attach_dash_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
        args.launch_tui = launch_tui
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:  # no command: `opencode-auth-tui [--store PATH]`
            on_terminal = sys.stdin.isatty() and sys.stdout.isatty()
            if launch_tui is None or not on_terminal:
                parser.print_help(sys.stderr)
                return EXIT_USAGE
            handler = cmd_tui
        return handler(args)
    except (AuthTuiError, UsageError) as exc:
        hint = getattr(exc, "hint", None)
        _err(f"{exc} ({hint})" if hint else str(exc))
        return _exit_code(exc)
    except KeyboardInterrupt:
        _note("")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a message.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("OPENCODE_AUTH_TUI_DEBUG"):
            raise
        _err(
            f"internal error ({type(exc).__name__}: {escape_controls(str(exc))}); "
            "set OPENCODE_AUTH_TUI_DEBUG=1 to see the traceback"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
