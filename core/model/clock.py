"""Injected time and randomness.

Nothing in core reads the wall clock or the OS random source directly: the store,
the expiry parser and the authorizer take a `Clock` and a `TokenBytes`. Production
code passes the defaults below; tests and snapshots pass fixed ones, which is what
makes them deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware, in UTC."""

TokenBytes = Callable[[int], bytes]
"""Returns n bytes from a CSPRNG (`os.urandom`, which is what `secrets.token_bytes` calls)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


system_token_bytes: TokenBytes = os.urandom


def to_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC; refuse naive ones (a bug, not user input)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: core only handles timezone-aware UTC times")
    return value.astimezone(UTC)
