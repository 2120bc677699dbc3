"""The `--expires` parser: `never`, `12h` / `30d` / `2w` / `1y`, or a future ISO date.

Bounded on purpose: a count is at most a few digits and the result at most
`MAX_LIFETIME` ahead, so no input can overflow `datetime` or produce a token that
silently lives for centuries ("never" says that honestly). Zero, negative and past
values are refused rather than producing an already-expired token.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from core.model.errors import InvalidExpiry
from core.model.text import escape_controls, format_timestamp

DEFAULT_EXPIRY = "90d"
MAX_LIFETIME = timedelta(days=10 * 365)
NEVER = "never"

_UNITS = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
_UNIT_NAMES = {"h": "hours", "d": "days", "w": "weeks", "y": "years"}
_DURATION_RE = re.compile(r"([0-9]+)\s*([a-zA-Z]+)", re.ASCII)
_HELP = "use never, a count with h/d/w/y (12h, 30d, 2w, 1y) or a future date (2027-01-31)"


def parse_expiry(text: str, now: datetime) -> datetime | None:
    """The expiry instant (UTC, whole seconds) for `text`, or None for `never`.

    A bare date means the start of that day in UTC; a date-time without an offset
    is taken as UTC.
    """
    raw = text.strip()
    shown = escape_controls(raw)
    if not raw:
        raise InvalidExpiry(f"expiry is empty; {_HELP}")
    if raw.lower() == NEVER:
        return None
    now = now.astimezone(UTC).replace(microsecond=0)

    duration = _DURATION_RE.fullmatch(raw)
    if duration is not None:
        digits, unit = duration.group(1), duration.group(2).lower()
        if unit not in _UNITS:
            raise InvalidExpiry(f"expiry '{shown}': unknown unit '{unit}'; {_HELP}")
        if len(digits.lstrip("0")) > 6:  # bound before int(): no giant numbers
            raise InvalidExpiry(
                f"expiry '{shown}' is longer than the 10-year maximum; use 'never' for no expiry"
            )
        count = int(digits)
        if count == 0:
            raise InvalidExpiry(f"expiry '{shown}': must be at least 1 {_UNIT_NAMES[unit][:-1]}")
        lifetime = _UNITS[unit] * count
        if lifetime > MAX_LIFETIME:
            raise InvalidExpiry(
                f"expiry '{shown}' is longer than the 10-year maximum; use 'never' for no expiry"
            )
        return now + lifetime

    if not raw.isascii():
        raise InvalidExpiry(f"expiry '{shown}' is not understood; {_HELP} (ASCII digits)")
    if re.fullmatch(r"[+-]?[0-9]+", raw):
        raise InvalidExpiry(f"expiry '{shown}' has no unit; {_HELP}")
    if raw.startswith("-"):
        raise InvalidExpiry(f"expiry '{shown}': must be in the future; {_HELP}")

    moment = _parse_iso(raw)
    if moment is None:
        raise InvalidExpiry(f"expiry '{shown}' is not understood; {_HELP}")
    moment = moment.replace(microsecond=0)
    if moment <= now:
        raise InvalidExpiry(f"expiry '{shown}' ({format_timestamp(moment)}) is not in the future")
    if moment - now > MAX_LIFETIME:
        raise InvalidExpiry(
            f"expiry '{shown}' is more than 10 years away; use 'never' for no expiry"
        )
    return moment


def _parse_iso(raw: str) -> datetime | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
        except ValueError:
            return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ][0-9:.,]+(Z|z|[+-]\d{2}(:?\d{2})?)?", raw):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def lifetime_of(created_at: datetime, expires_at: datetime | None) -> str:
    """An expiry spec that reproduces a record's lifetime (used by rotate)."""
    if expires_at is None:
        return NEVER
    hours = max(1, round((expires_at - created_at).total_seconds() / 3600))
    if hours >= MAX_LIFETIME // timedelta(hours=1):  # hand-edited or migrated: cap it
        return f"{MAX_LIFETIME.days}d"
    if hours % 24 == 0:
        return f"{hours // 24}d"
    return f"{hours}h"
