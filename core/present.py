"""Text shown to people, shared by the CLI and the TUI (no printing here).

Names can reach the store file by hand-editing, so anything shown on a terminal
goes through `escape_controls` first: a name can never inject an escape sequence,
move the cursor, or reorder text with bidi controls.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.model.errors import AuthTuiError
from core.model.permissions import Permission, passes_nothing
from core.model.text import UNSAFE


def relative_time(moment: datetime, now: datetime) -> str:
    """`in 89 days`, `3 hours ago`, `just now`: short, for tables.

    Days are used up to a year, then years; counts are rounded to the nearest
    unit, so a fresh 90-day token reads "in 90 days" and one with 88.6 days
    left reads "in 89 days".
    """
    delta = moment - now
    future = delta > timedelta(0)
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "in under a minute" if future else "just now"
    # Rounded to the nearest unit: a fresh 30-day token reads "in 30 days", and a
    # 1-year token a few seconds old still "in 1 year" (365 days, rounded).
    days = round(seconds / 86400)
    if days >= 365:
        count, unit = max(1, round(days / 365)), "year"
    else:
        for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
            if seconds >= unit_seconds or unit == "minute":
                count = max(1, round(seconds / unit_seconds))
                break
    label = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {label}" if future else f"{label} ago"


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
