"""`session list|end` and `token logout`: the browser sessions signed in as tokens
(the gateway's login page and pairing links make them).

Ending a session takes effect at the next request of that browser, on every
gateway and forward-auth sharing the store: the cookie then names nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.cli.command import Command, add_command, add_group, add_json_fields_flag
from core.cli.console import Console
from core.cli.exits import EXIT_OK
from core.cli.output import emit_json, json_fields, note
from core.cli.session_view import SESSION_JSON_FIELDS, session_json, session_table
from core.cli.store_access import load, open_named
from core.cli.token_view import label

if TYPE_CHECKING:
    from core.cli.command import Subcommands


@dataclass(frozen=True)
class SessionListOptions:
    store: str | None
    json: str | Literal[False]


def list_sessions(options: SessionListOptions, console: Console) -> int:
    store = open_named(options.store)
    fields = json_fields(options.json, SESSION_JSON_FIELDS) if options.json is not False else None
    snapshot = load(store, console)
    now = store.now()
    if options.json is not False:
        emit_json(
            console,
            [session_json(s, snapshot.by_id(s.token_id), now, fields) for s in snapshot.sessions],
        )
        return EXIT_OK
    if not snapshot.sessions:
        note(console, f"No browser sessions in {store.location}.")
        note(console, "Browsers sign in on the gateway's /_auth/login page, or with `pair`.")
        return EXIT_OK
    lines = session_table(snapshot.sessions, snapshot.by_id, now)
    console.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


@dataclass(frozen=True)
class SessionEndOptions:
    store: str | None
    ids: list[str]


def end_sessions(options: SessionEndOptions, console: Console) -> int:
    store = open_named(options.store)
    ended = store.end_sessions(options.ids)
    snapshot = store.load()
    for session in ended:
        token = snapshot.by_id(session.token_id)
        whose = f"token (id {session.token_id})" if token is None else f"token {label(token)}"
        print(f"Ended session {session.id} of {whose}", file=console.stdout)
    return EXIT_OK


@dataclass(frozen=True)
class LogoutOptions:
    store: str | None
    ref: str


def logout(options: LogoutOptions, console: Console) -> int:
    store = open_named(options.store)
    token = load(store, console).require(options.ref)
    ended = store.end_sessions_of(token.id)
    count = len(ended)
    if not count:
        note(console, f"Token {label(token)} has no browser sessions; nothing ended.")
        return EXIT_OK
    noun = "session" if count == 1 else "sessions"
    print(f"Ended {count} {noun} of token {label(token)}", file=console.stdout)
    return EXIT_OK


def register(commands: Subcommands) -> None:
    """`session` and its actions."""
    sessions = add_group(
        commands, "session", "list and end browser sessions", dest="session_command"
    )
    p = add_command(
        sessions,
        "list",
        Command(SessionListOptions, list_sessions),
        "list browser sessions (never their ids' secrets)",
    )
    add_json_fields_flag(p, "print a JSON array of sessions")
    p = add_command(
        sessions,
        "end",
        Command(SessionEndOptions, end_sessions),
        "end browser sessions: their next request is refused",
    )
    p.add_argument("ids", metavar="ID", nargs="+", help="a session's id (see session list)")


def register_logout(tokens: Subcommands) -> None:
    """`token logout`, in the token group."""
    p = add_command(
        tokens,
        "logout",
        Command(LogoutOptions, logout),
        "end every browser session of a token (and its unused pairing links)",
    )
    p.add_argument("ref", metavar="ID_OR_NAME")
