"""How every command speaks: one-line errors and warnings on stderr, notes for
people, JSON for programs. The gateway's servers use the same printers.

stdout carries only what a script asked for (a table, JSON, a secret); anything
said to a person goes to stderr, so `| jq` and `> file` stay clean.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Any

from core.cli.console import Console
from core.cli.exits import UsageError
from core.model.records import TokenRecord
from core.model.text import escape_controls
from core.present import safe_json

PROG = "opencode-auth-tui"


def styled(text: str, code: str, on: bool) -> str:
    """`text` in the SGR colour `code` when `on` (a colour terminal), else as is."""
    return f"\x1b[{code}m{text}\x1b[0m" if on else text


def say(console: Console, line: str) -> None:
    """A line to stderr; nothing when nobody reads it any more (a closed pipe
    must not stop a command, or a server from serving, or from stopping)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=console.stderr, flush=True)


def error(console: Console, message: str) -> None:
    say(console, f"{PROG}: {styled('error:', '31', console.color_stderr)} {message}")


def warn(console: Console, message: str) -> None:
    say(console, f"{PROG}: {styled('warning:', '33', console.color_stderr)} {message}")


def note(console: Console, message: str) -> None:
    """A sentence for the person at the terminal (not an error, not output)."""
    say(console, message)


def emit_json(console: Console, data: Any) -> None:
    print(safe_json(data), file=console.stdout)


def confirm(console: Console, question: str, *, yes: bool) -> bool:
    """True if confirmed: `--yes`, or `y` typed at a terminal. Without a terminal
    and without --yes, refuse (exit 2) rather than guess."""
    if yes:
        return True
    if not console.stdin_isatty:
        raise UsageError(
            "refusing to proceed without confirmation: stdin is not a terminal; pass --yes"
        )
    answer = console.ask(f"{question} [y/N]").strip().lower()
    return answer in ("y", "yes")


# --- secrets where they do not belong -------------------------------------------------

_TOKEN_LIKE = re.compile(r"(ocat_|ocsess_|ocpair_)[0-9A-Za-z]+")


def holds_secret(text: str) -> bool:
    """Whether `text` (a command-line argument) contains something like a token (or
    a session id or pairing code)."""
    return _TOKEN_LIKE.search(text) is not None


def redact_secrets(text: str) -> str:
    """`text` with anything like a token cut to `ocat_…(redacted)` (a session id to
    `ocsess_…(redacted)`, ...), before it is echoed."""
    return _TOKEN_LIKE.sub(lambda m: f"{m.group(1)}…(redacted)", text)


# --- `--json [FIELDS]` --------------------------------------------------------------

JSON_FIELDS = (
    "id",
    "name",
    "permissions",
    "created_at",
    "expires_at",
    "last_used_at",
    "last_used_from",
    "hint",
    "legacy",
    "note",
    "directories",
    "status",
)


def json_fields(value: str | None, known: tuple[str, ...] = JSON_FIELDS) -> tuple[str, ...] | None:
    """`--json` alone: every field; `--json id,name,status`: those, in that order."""
    if value is None or value == "":
        return None
    fields = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in fields if f not in known]
    if unknown or not fields:
        shown = escape_controls(", ".join(unknown)) if unknown else "(none)"
        raise UsageError(f"--json: unknown field {shown}; choose from {','.join(known)}")
    return fields


def record_json(record: TokenRecord, now: datetime, fields: tuple[str, ...] | None) -> Any:
    data = record.public_dict(now)
    return data if fields is None else {f: data[f] for f in fields}
