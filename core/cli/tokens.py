"""`token create|edit|list|show|delete|rotate|prune`: the token commands
(`token check` is token_check.py, `token logout` sessions.py).

Each has an options dataclass (its flags, typed) and a handler that takes the
options and a console; `register` adds their flags to the parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.cli import sessions, token_check
from core.cli.command import (
    Command,
    absolute_directories,
    add_command,
    add_directory_flag,
    add_group,
    add_json_fields_flag,
    add_permission_flags,
    permissions_given,
    say_directories,
)
from core.cli.console import Console
from core.cli.exits import EXIT_OK, UsageError
from core.cli.output import (
    JSON_FIELDS,
    PROG,
    confirm,
    emit_json,
    json_fields,
    note,
    record_json,
    redact_secrets,
    warn,
)
from core.cli.session_view import session_json, session_lines
from core.cli.store_access import file_exists, load, open_named, say_if_created, warn_about_mode
from core.cli.token_view import detail_rows, label, summary, table
from core.model.expiry import DEFAULT_EXPIRY
from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.model.text import escape_controls
from core.present import counted
from core.store import Issued, Store

if TYPE_CHECKING:
    import argparse

    from core.cli.command import Subcommands


# --- shared by several commands ---------------------------------------------------


def _warn_if_useless(permissions: Sequence[Permission], console: Console) -> None:
    from core.model.permissions import passes_nothing

    why = passes_nothing(permissions)
    if why is not None:
        warn(console, why)


def _show_issued(
    issued: Issued, store: Store, console: Console, verb: str, *, as_json: bool, quiet: bool
) -> None:
    """A new secret, shown this once: alone (`--quiet`), in JSON, or in a sentence."""
    record, secret = issued.record, issued.secret
    if quiet:
        print(secret.reveal(), file=console.stdout)
        return
    if as_json:
        data = record.public_dict(store.now())
        data["token"] = secret.reveal()
        emit_json(console, data)
    else:
        out = console.stdout
        print(f"{verb} token {summary(record, store.now())}", file=out)
        print(file=out)
        print(f"    {secret.reveal()}", file=out)
        print(file=out)
    note(console, "Copy this token now: it will not be shown again.")


# --- create, edit -----------------------------------------------------------------


@dataclass(frozen=True)
class CreateOptions:
    store: str | None
    given_name: str | None
    """`token create NAME`, as gh and npm take a name."""
    name: str | None
    permissions: str | None
    preset: str | None
    expires: str
    note: str | None
    directories: list[str] | None
    json: bool
    quiet: bool


def one_name(positional: str | None, flag: str | None) -> str | None:
    """The name given as NAME or as --name; both are fine if they agree."""
    if positional is None or flag is None or positional == flag:
        return flag if flag is not None else positional
    first, second = (redact_secrets(escape_controls(n[:64])) for n in (positional, flag))
    raise UsageError(
        f"two names given, '{first}' and --name '{second}': give the name once, "
        "as NAME or as --name"
    )


def create(options: CreateOptions, console: Console) -> int:
    name = one_name(options.given_name, options.name)
    permissions = permissions_given(options.permissions, options.preset)
    store = open_named(options.store)
    warn_about_mode(store, console)
    existed = file_exists(store)
    issued = store.create(
        name=name,
        permissions=permissions,
        expires=options.expires,
        note=options.note,
        directories=absolute_directories(options.directories) or (),
    )
    _show_issued(issued, store, console, "Created", as_json=options.json, quiet=options.quiet)
    say_directories(options.directories, issued.record.directories, console)
    say_if_created(store, existed, console)
    _warn_if_useless(issued.record.permissions, console)
    return EXIT_OK


@dataclass(frozen=True)
class EditOptions:
    store: str | None
    ref: str
    name: str | None
    note: str | None
    permissions: str | None
    preset: str | None
    directories: list[str] | None
    all_directories: bool
    expires: str | None
    json: bool


_FIELD_WORDS = {"expires_at": "expiry", "directories": "directories", "note": "note"}


def edit(options: EditOptions, console: Console) -> int:
    if options.all_directories and options.directories:
        raise UsageError("--directory and --all-directories exclude each other: give one")
    permissions = permissions_given(options.permissions, options.preset)
    store = open_named(options.store)
    warn_about_mode(store, console)
    directories = [] if options.all_directories else absolute_directories(options.directories)
    edited = store.edit(
        options.ref,
        name=options.name,
        note=options.note,
        permissions=permissions,
        directories=directories,
        expires=options.expires,
    )
    record = edited.after
    say_directories(options.directories, record.directories if options.directories else (), console)
    if "permissions" in edited.changed:
        _warn_if_useless(record.permissions, console)
    if options.json:
        emit_json(console, record.public_dict(store.now()))
        return EXIT_OK
    if not edited.changed:
        note(console, f"Token {label(record)} already has those settings; nothing changed.")
        return EXIT_OK
    fields = ", ".join(_FIELD_WORDS.get(name, name) for name in edited.changed)
    print(f"Edited token {label(record)}: {fields}. Its secret is unchanged.", file=console.stdout)
    for key, value in detail_rows(record, store.now()):
        if key in ("name", "note", "permissions", "directories", "expires"):
            print(f"  {key:<12} {value}", file=console.stdout)
    if edited.ended:
        note(console, f"Ended {counted(len(edited.ended), 'browser session')} of the token.")
    return EXIT_OK


# --- list, show -------------------------------------------------------------------


@dataclass(frozen=True)
class ListOptions:
    store: str | None
    json: str | Literal[False]
    """False: the table; "": JSON with every field; "id,name": those fields."""


def list_tokens(options: ListOptions, console: Console) -> int:
    store = open_named(options.store)
    fields = json_fields(options.json) if options.json is not False else None
    snapshot = load(store, console)
    now = store.now()
    if options.json is not False:
        emit_json(console, [record_json(record, now, fields) for record in snapshot.records])
        return EXIT_OK
    if not snapshot.records:
        note(console, f"No tokens in {store.location}.")
        note(console, f"Create one with: {PROG} token create NAME")
        return EXIT_OK
    lines = table(snapshot.records, now, color=console.color_stdout)
    console.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


@dataclass(frozen=True)
class ShowOptions:
    store: str | None
    ref: str
    json: str | Literal[False]


_SHOW_FIELDS = (*JSON_FIELDS, "sessions")


def show(options: ShowOptions, console: Console) -> int:
    store = open_named(options.store)
    fields = json_fields(options.json, _SHOW_FIELDS) if options.json is not False else None
    snapshot = load(store, console)
    record = snapshot.require(options.ref)
    its_sessions = snapshot.sessions_of(record.id)
    now = store.now()
    if options.json is not False:
        data = record_json(record, now, None)
        data["sessions"] = [session_json(s, record, now) for s in its_sessions]
        emit_json(console, data if fields is None else {f: data[f] for f in fields})
        return EXIT_OK
    for key, value in detail_rows(record, now):
        print(f"{key:<12} {value}", file=console.stdout)
    for line in session_lines(its_sessions, now):
        print(line, file=console.stdout)
    return EXIT_OK


# --- delete, rotate, prune ----------------------------------------------------------


@dataclass(frozen=True)
class DeleteOptions:
    store: str | None
    refs: list[str]
    yes: bool


def delete(options: DeleteOptions, console: Console) -> int:
    store = open_named(options.store)
    snapshot = load(store, console)
    doomed: dict[str, TokenRecord] = {}
    for ref in options.refs:
        record = snapshot.require(ref)
        doomed[record.id] = record
    listing = ", ".join(label(r) for r in doomed.values())
    if len(doomed) == 1:
        question = f"Delete token {listing}? Clients using it will be refused at once."
    else:
        question = (
            f"Delete {counted(len(doomed), 'token')} {listing}? Clients using them will be "
            "refused at once."
        )
    if not confirm(console, question, yes=options.yes):
        note(console, "Nothing deleted.")
        return EXIT_OK
    for record in store.delete(list(doomed)):
        print(f"Deleted token {label(record)}", file=console.stdout)
    return EXIT_OK


@dataclass(frozen=True)
class RotateOptions:
    store: str | None
    ref: str
    expires: str | None
    directories: list[str] | None
    json: bool
    quiet: bool


def rotate(options: RotateOptions, console: Console) -> int:
    store = open_named(options.store)
    warn_about_mode(store, console)
    issued = store.rotate(
        options.ref,
        expires=options.expires,
        directories=absolute_directories(options.directories),
    )
    _show_issued(issued, store, console, "Rotated", as_json=options.json, quiet=options.quiet)
    say_directories(
        options.directories, issued.record.directories if options.directories else (), console
    )
    if not options.quiet:
        note(console, "The previous secret no longer works.")
    return EXIT_OK


@dataclass(frozen=True)
class PruneOptions:
    store: str | None
    yes: bool


def prune(options: PruneOptions, console: Console) -> int:
    store = open_named(options.store)
    now = store.now()
    expired = [r for r in load(store, console).records if r.is_expired(now)]
    if not expired:
        note(console, "No expired tokens.")
        return EXIT_OK
    listing = ", ".join(label(r) for r in expired)
    noun = "expired token" if len(expired) == 1 else counted(len(expired), "expired token")
    if not confirm(console, f"Delete {noun}: {listing}?", yes=options.yes):
        note(console, "Nothing deleted.")
        return EXIT_OK
    for record in store.prune(only={r.id for r in expired}):
        print(f"Deleted expired token {label(record)}", file=console.stdout)
    return EXIT_OK


# --- flags ---------------------------------------------------------------------------


def _note_and_directory_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--note", metavar="TEXT", help="what the token is for (up to 200 characters)"
    )
    add_directory_flag(parser)


def _output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json", action="store_true", help="print one JSON object including the token"
    )
    group.add_argument(
        "--quiet", action="store_true", help="print only the token (for a file or a pipe)"
    )


def register(commands: Subcommands) -> None:
    """`token` and its actions."""
    tokens = add_group(
        commands,
        "token",
        "create, list, show, edit, delete, rotate, prune, check tokens; log a token out",
        dest="token_command",
    )

    p = add_command(
        tokens, "create", Command(CreateOptions, create), "create a token; its secret is shown once"
    )
    p.add_argument(
        "given_name", metavar="NAME", nargs="?", help="the token's name (or give --name)"
    )
    p.add_argument("--name", help="unique name, 1-64 characters (default: token-N)")
    add_permission_flags(p, "all three")
    p.add_argument(
        "--expires",
        default=DEFAULT_EXPIRY,
        metavar="WHEN",
        help="never, 12h, 30d, 2w, 1y or a future ISO date (default: 90d)",
    )
    _note_and_directory_flags(p)
    _output_flags(p)

    p = add_command(
        tokens,
        "edit",
        Command(EditOptions, edit),
        "change a token's name, note, permissions, directories or expiry (same secret)",
    )
    p.add_argument("ref", metavar="ID_OR_NAME")
    p.add_argument("--name", help="a new unique name, 1-64 characters")
    add_permission_flags(p, None)
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

    p = add_command(
        tokens,
        "list",
        Command(ListOptions, list_tokens),
        "list tokens (never secrets)",
        aliases=["ls"],
    )
    add_json_fields_flag(p, "print a JSON array of records")

    p = add_command(
        tokens,
        "show",
        Command(ShowOptions, show),
        "show one token's metadata and browser sessions (never the secret)",
    )
    p.add_argument("ref", metavar="ID_OR_NAME")
    add_json_fields_flag(p, "print a JSON object")

    p = add_command(
        tokens,
        "delete",
        Command(DeleteOptions, delete),
        "delete tokens; clients using them are refused at once",
        aliases=["revoke"],
    )
    _delete_flags(p)

    p = add_command(
        tokens,
        "rotate",
        Command(RotateOptions, rotate),
        "issue a new secret for a token (same id and name)",
    )
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
        help="new directories for the token (repeatable; a relative one is taken from the "
        "current folder; default: keep them)",
    )
    _output_flags(p)

    p = add_command(tokens, "prune", Command(PruneOptions, prune), "delete expired tokens")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    token_check.register(tokens)
    sessions.register_logout(tokens)

    p = add_command(
        commands,
        "revoke",
        Command(DeleteOptions, delete),
        "delete tokens, as `token delete` (npm's word): clients using them are refused at once",
    )
    _delete_flags(p)


def _delete_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", metavar="ID_OR_NAME", nargs="+")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
