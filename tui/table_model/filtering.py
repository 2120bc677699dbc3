"""The filter: the rows whose name or id contains what was typed, and their counts.

A filter is typed one key at a time over as many as 100,000 rows, so a query that
only adds to the last one's text narrows the last matches instead of every row:
a keystroke costs a few milliseconds. The status line counts the matches that
are expiring and expired, so those are counted here, once per filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.model.records import TokenStatus
from tui.table_model.rows import TokenRow


@dataclass(frozen=True)
class Filtered:
    """The rows of `source` (a view's rows, in order) whose text contains `needle`,
    and how many of them are expiring and expired."""

    source: Sequence[TokenRow]
    needle: str
    rows: list[TokenRow]
    expiring: int
    expired: int

    @classmethod
    def of(
        cls,
        source: Sequence[TokenRow],
        needle: str,
        among: Sequence[TokenRow],
        counts: tuple[int, int] | None = None,
    ) -> Filtered:
        """Filter `among` (all of `source`, or the matches of a shorter needle);
        `counts` are among's (expiring, expired), if known."""
        rows = TokenRow.containing(among, needle)
        if counts is not None and len(rows) == len(among):
            return cls(source, needle, rows, *counts)  # every row matched again
        expiring = expired = 0
        for row in rows:
            status = row.status
            if status is TokenStatus.EXPIRING:
                expiring += 1
            elif status is TokenStatus.EXPIRED:
                expired += 1
        return cls(source, needle, rows, expiring, expired)


def filter_view(
    rows: Sequence[TokenRow],
    query: str,
    last: Filtered | None = None,
    counts: tuple[int, int] | None = None,
) -> Filtered | None:
    """The rows whose name or id contains `query` (trimmed, case-insensitive);
    None when it is empty (every row is shown).

    `last` is the previous result: a query that only adds to its text narrows
    its matches instead of every row, so typing a filter costs a few
    milliseconds a key at 100,000 tokens. `counts` are `rows`' (expiring,
    expired), when known.
    """
    needle = query.strip().casefold()
    if not needle:
        return None
    if last is not None and last.source is rows:
        if last.needle == needle:
            return last
        if last.needle in needle:
            return Filtered.of(rows, needle, last.rows, (last.expiring, last.expired))
    return Filtered.of(rows, needle, rows, counts)
