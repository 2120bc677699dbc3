"""Text a person or a program typed, made safe to show: control and invisible
characters escaped, timestamps in one format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

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
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT_CHARS}]")


def is_unsafe_char(ch: str) -> bool:
    return UNSAFE.match(ch) is not None


def escape_controls(text: str) -> str:
    r"""Replace unsafe characters with visible escapes: ESC -> `\x1b`, U+202E -> `\u202e`.

    A backslash is left as is: the point is that nothing invisible or active
    reaches the terminal, not that the result round-trips.
    """
    return UNSAFE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def format_timestamp(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a `Z`, seconds precision; `never` for None."""
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
