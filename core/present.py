"""Text shown to people, shared by the CLI and the TUI (no printing here).

Names can reach the store file by hand-editing, so anything shown on a terminal
goes through `escape_controls` first: a name can never inject an escape sequence,
move the cursor, or reorder text with bidi controls.
"""

from __future__ import annotations

import io
import json
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from core.model.errors import AuthTuiError, InputError
from core.model.permissions import Permission, passes_nothing
from core.model.text import UNSAFE, escape_controls


def relative_time(moment: datetime, now: datetime) -> str:
    """`in 89 days`, `3 hours ago`, `just now`: short, for tables.

    Days are used up to a year, then years; counts are rounded to the nearest
    unit, so a fresh 90-day token reads "in 90 days" and one with 88.6 days
    left reads "in 89 days". (Called twice a row of `token list`, 10,000 rows
    and more: the arithmetic is plain, and each distinct text is made once.)
    """
    seconds = (moment - now).total_seconds()
    future = seconds > 0
    if not future:
        seconds = -seconds
    if seconds < 60:
        return "in under a minute" if future else "just now"
    if seconds >= 86400:
        # Rounded to the nearest unit: a fresh 30-day token reads "in 30 days", and a
        # 1-year token a few seconds old still "in 1 year" (365 days, rounded).
        count, unit = round(seconds / 86400), "day"
        if count >= 365:
            count, unit = round(count / 365), "year"
    elif seconds >= 3600:
        count, unit = round(seconds / 3600), "hour"
    else:
        count, unit = round(seconds / 60), "minute"
    key = (future, count, unit)
    text = _RELATIVE.get(key)
    if text is None:
        amount = f"{count} {unit}{'' if count == 1 else 's'}"
        text = _RELATIVE[key] = f"in {amount}" if future else f"{amount} ago"
    return text


_RELATIVE: dict[tuple[bool, int, str], str] = {}
"""relative_time's texts by (future, count, unit): a few hundred at most."""


def format_date(moment: datetime | None, *, none: str = "never") -> str:
    if moment is None:
        return none
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def cell_width(text: str) -> int:
    """Terminal cells `text` occupies: wide East Asian characters take two,
    combining marks none. (Enough for aligned tables without importing Rich.)"""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """`text` cut to at most `width` cells (ending in `…` if cut), padded to `width`."""
    if text.isascii():
        return text[: width - 1] + "…" if len(text) > width else text.ljust(width)
    if cell_width(text) > width:
        out, used = [], 0
        for ch in text:
            w = cell_width(ch)
            if used + w > width - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text + " " * (width - cell_width(text))


_LETTERS = ((Permission.READ, "r"), (Permission.WRITE, "w"), (Permission.EXECUTE, "x"))


def permission_letters(permissions: Iterable[Permission]) -> str:
    """`rwx`, `r--`, `r-x`: each permission in a fixed place, like `ls -l`, for tables."""
    held = set(permissions)
    return "".join(letter if p in held else "-" for p, letter in _LETTERS)


def one_line(error: AuthTuiError) -> str:
    """`message (hint)`: a typed error as one line - a CLI error, a notification,
    an inline form error."""
    if error.hint:
        return f"{error.message} ({error.hint})"
    return error.message


def safe_json(data: object) -> str:
    """JSON for a terminal: readable Unicode, but every unsafe character (controls,
    bidi overrides) escaped as \\uXXXX. Such characters can only occur inside
    JSON strings, where the escape means the same thing."""

    text = json.dumps(data, indent=2, ensure_ascii=False)
    # json.dumps escapes newlines inside strings, so a raw newline is layout.
    return UNSAFE.sub(
        lambda m: m.group() if m.group() == "\n" else f"\\u{ord(m.group()):04x}", text
    )


# --- what a token can do, in words (token show, the TUI's details) ---


R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE

_CAN = {
    R: "list and read the project's files except opencode's config files, find files by name, "
    "git status",
    W: "write to opencode's log",
    (R, X): "search inside files, read diffs, opencode's config files, sessions, the config "
    "(with API keys) and event streams",
    (W, X): "run commands, prompt the agent, and change opencode's config, MCP servers "
    "and credentials",
}
_READ_WITH_EXECUTE = "list and read the project's files, find files by name, git status"
"""Read's words when execute lifts its one exception (opencode's config files)."""
_CANNOT = {
    R: "list or read files",
    W: "change anything",
    (R, X): "search inside files, read diffs, opencode's config files, sessions, the config, "
    "API keys or event streams",
    (W, X): "run commands or steer the agent",
}


@dataclass(frozen=True)
class Abilities:
    where: str
    can: tuple[str, ...]
    cannot: tuple[str, ...]

    def sentence(self) -> str:
        """`can list and read ...; cannot run commands, ...` - one line (`token show`;
        the TUI's details show the same two parts, styled)."""
        can = "; ".join(self.can) if self.can else "nothing"
        if not self.cannot:
            return f"can {can}"
        return f"can {can}; cannot {', '.join(self.cannot)}"


def shorten(path: str, home: Path | None) -> str:
    if home is not None:
        base = str(home).rstrip("/")
        if path == base:
            return "~"
        if path.startswith(base + "/"):
            return "~" + path[len(base) :]
    return path


def abilities(
    permissions: Iterable[Permission], directories: Iterable[str] = (), home: Path | None = None
) -> Abilities:
    held = set(permissions)
    dirs = [shorten(d, home) for d in directories]
    where = "in " + ", ".join(dirs) if dirs else "in every directory the server serves"
    if passes_nothing(held) is not None:
        return Abilities(where, (), ("pass any request (it needs read or write too)",))
    can: list[str] = []
    cannot: list[str] = []
    for key in (R, W, (R, X), (W, X)):
        needed = {key} if isinstance(key, Permission) else set(key)
        if not needed <= held:
            cannot.append(_CANNOT[key])
        elif key is R and X in held:
            can.append(_READ_WITH_EXECUTE)
        else:
            can.append(_CAN[key])
    if {W, X} <= held and dirs:
        can[-1] += " (commands reach beyond those directories: whatever opencode's user can)"
    return Abilities(where, tuple(can), tuple(cannot))


# --- counts and directories, as every message says them ---


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 token`, `2 tokens`, `0 tokens` (`plural` for nouns that take more than an s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def relative_directory_note(given: str, absolute: str) -> str:
    """What is said when a relative directory was taken from the current folder."""
    shown, taken = escape_controls(given), escape_controls(absolute)
    return f"the directory '{shown}' is taken as {taken}, from the current folder"


def missing_directory_warning(directory: str) -> str | None:
    """A warning for a directory that does not exist (yet), or None. Not an error:
    a token may be made before its project is cloned."""
    if os.path.isdir(directory):
        return None
    return (
        f"the directory {escape_controls(directory)} does not exist (yet); the token is "
        "limited to it all the same"
    )


# --- pairing links: the CLI's `pair` and the TUI's pairing modal ---

PAIR_PATH = "/_auth/pair"
"""The gateway's pairing page (core.gateway.signin)."""
QR_ERROR_LEVEL = "m"
"""Error correction M (15%): a code on a screen, photographed by a phone."""
QR_QUIET_ZONE = 4
"""The standard's quiet zone, in modules (the TUI draws its own, smaller one)."""
_URL_FORM = "give the gateway's address as http(s)://HOST[:PORT], e.g. https://myhost:4097"


def gateway_base(url: str, *, called: str = "--url") -> str:
    """`url` as the base of a pairing link: `http(s)://host[:port]` and nothing
    else (the pages live at the origin's root, as the `__Host-` cookie must), or
    an InputError that says what is wrong, in one line. `called` is how the
    message names the value: the CLI's flag, or a form's field."""
    text = url.strip()
    shown = escape_controls(text[:80])
    if not text:
        raise InputError(f"{called} is empty: {_URL_FORM}")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InputError(f"{called} '{shown}' holds spaces or control characters: {_URL_FORM}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{called} '{shown}' is not an http:// or https:// URL: {_URL_FORM}")
    if parts.username is not None or parts.password is not None:
        raise InputError(f"{called} must not hold a user name or password: {_URL_FORM}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(
            f"{called} '{shown}' has a path, query or fragment; the sign-in pages live at the "
            f"gateway's root: {_URL_FORM}"
        )
    if not parts.hostname:
        raise InputError(f"{called} '{shown}' has no host: {_URL_FORM}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise InputError(f"{called} '{shown}': the port is not a number from 1 to 65535")
    return f"{scheme}://{parts.netloc}"


def clear_text_beyond_this_machine(base: str) -> bool:
    """Whether a link to `base` would carry its code and the session cookie across
    a network in clear text: http:// to a host other than this machine."""
    if not base.startswith("http://"):
        return False
    host = urlsplit(base).hostname or ""
    if host == "localhost":
        return False
    import ipaddress  # only pairing needs it

    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def pairing_link(base: str, code: str) -> str:
    """The link a device opens: the gateway's pairing page with the one-time code."""
    return f"{base}{PAIR_PATH}?code={code}"


def qr_text(link: str, *, error: str = QR_ERROR_LEVEL, border: int = QR_QUIET_ZONE) -> str:
    """The link as a QR code in text: two rows of modules per line in half blocks
    (segno's compact terminal output: light modules drawn, dark ones blank - light
    on dark), with a quiet zone of `border` modules. `error` is the least error
    correction wanted; segno raises it where the code's size has room to spare."""
    import segno  # only pairing needs it

    out = io.StringIO()
    segno.make(link, error=error, micro=False).terminal(out=out, compact=True, border=border)
    return out.getvalue()
