"""Text shown to people, shared by the CLI and the TUI (no printing here).

Names can reach the store file by hand-editing, so anything shown on a terminal
goes through `escape_controls` first: a name can never inject an escape sequence,
move the cursor, or reorder text with bidi controls.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

# Characters that must never reach a terminal raw: every C0/C1 control and DEL
# (Unicode category Cc), the line/paragraph separators (Zl, Zp), and every
# invisible format character (Cf: bidi overrides and isolates used in "trojan
# source" tricks, zero-width spaces and joiners, BOM, tags), so two names can never
# look the same while differing, nor reorder what is printed after them.
# Cf as of Unicode 15.1 (a test checks it covers the running Python's tables).
_FORMAT_CHARS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT_CHARS}]")


def is_unsafe_char(ch: str) -> bool:
    return _UNSAFE.match(ch) is not None


def escape_controls(text: str) -> str:
    r"""Replace unsafe characters with visible escapes: ESC -> `\x1b`, U+202E -> `\u202e`.

    A backslash is left as is: the point is that nothing invisible or active
    reaches the terminal, not that the result round-trips.
    """
    return _UNSAFE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


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


def format_timestamp(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a `Z`, seconds precision; `never` for None."""
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def safe_json(data: object) -> str:
    """JSON for a terminal: readable Unicode, but every unsafe character (controls,
    bidi overrides) escaped as \\uXXXX. Such characters can only occur inside
    JSON strings, where the escape means the same thing."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False)
    # json.dumps escapes newlines inside strings, so a raw newline is layout.
    return _UNSAFE.sub(
        lambda m: m.group() if m.group() == "\n" else f"\\u{ord(m.group()):04x}", text
    )
