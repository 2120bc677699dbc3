"""The table's sort orders: what a click, `s` or the palette sorts by, and the row order.

Every column can be sorted by, each with the direction a first click gives (the
newest, the most used, ... first) and the words the status bar uses for it. Names
sort naturally (cli-2 before cli-10). Ties are always broken by name then id, so
equal rows never swap places between two reads of the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.model.records import TokenStatus
from tui.table_model.rows import NameKey, TokenRow
from tui.table_model.texts import perms_text

ASCENDING = "▲"
DESCENDING = "▼"


@dataclass(frozen=True, slots=True)
class _Order:
    first_descending: bool  # the direction a first click (or `s`) gives
    ascending: str  # how the two directions read, for the status bar
    descending: str


_ORDERS: Mapping[str, _Order] = {
    "name": _Order(False, "name A→Z", "name Z→A"),
    "id": _Order(False, "id A→Z", "id Z→A"),
    "permissions": _Order(True, "fewest permissions first", "most permissions first"),
    "created": _Order(True, "created oldest first", "created newest first"),
    "expires": _Order(False, "expires soonest first", "expires latest first"),
    "status": _Order(True, "status active first", "status expired first"),
    "last_used": _Order(True, "last used longest ago first", "last used most recent first"),
    "directories": _Order(False, "directories A→Z", "directories Z→A"),
    "note": _Order(False, "note A→Z", "note Z→A"),
}

# The orders `s` steps through, each first in its usual direction, then reversed.
SORT_CYCLE: tuple[str, ...] = ("name", "expires", "created", "last_used")


def cycle() -> list[Sort]:
    """Every order `s` steps through, from the first (name A→Z) back to it."""
    orders = [Sort()]
    while (following := orders[-1].next()) != orders[0]:
        orders.append(following)
    return orders


@dataclass(frozen=True, slots=True)
class Sort:
    """What the table is sorted by: a column (every column can be) and a direction.

    Ties are always broken by name then id, A→Z, whichever the direction.
    """

    column: str = "name"
    descending: bool = False

    @classmethod
    def by(cls, column: str) -> Sort:
        """The column in its usual direction (newest, most recent, ... first)."""
        return cls(column, _ORDERS[column].first_descending)

    def reversed(self) -> Sort:
        return Sort(self.column, not self.descending)

    def clicked(self, column: str) -> Sort:
        """A click on a column header: that column, or the same one reversed."""
        return self.reversed() if column == self.column else Sort.by(column)

    def next(self) -> Sort:
        """`s`: this column reversed, then the next column of SORT_CYCLE."""
        if self.descending == _ORDERS[self.column].first_descending:
            return self.reversed()
        if self.column not in SORT_CYCLE:
            return Sort.by(SORT_CYCLE[0])
        following = SORT_CYCLE[(SORT_CYCLE.index(self.column) + 1) % len(SORT_CYCLE)]
        return Sort.by(following)

    @property
    def arrow(self) -> str:
        return DESCENDING if self.descending else ASCENDING

    @property
    def description(self) -> str:
        order = _ORDERS[self.column]
        return order.descending if self.descending else order.ascending


_FAR_FUTURE = float("inf")
_STATUS_RANK = {TokenStatus.ACTIVE: 0, TokenStatus.EXPIRING: 1, TokenStatus.EXPIRED: 2}


def _expires_at(row: TokenRow) -> float:
    expires = row.record.expires_at
    return expires.timestamp() if expires else _FAR_FUTURE  # never: after every date


_PRIMARY: Mapping[str, Callable[[TokenRow], object]] = {
    "id": lambda row: row.id,
    "permissions": lambda row: (
        len(row.record.permissions),
        perms_text(row.record.permissions),
    ),
    "created": lambda row: row.record.created_at,
    "expires": _expires_at,
    "status": lambda row: (_STATUS_RANK[row.status], -_expires_at(row)),
    # never used: before every use, so "most recent first" puts it last
    "last_used": lambda row: (
        row.record.last_used_at.timestamp() if row.record.last_used_at else -_FAR_FUTURE
    ),
    # no directories ("all") before any; no note after every note
    "directories": lambda row: (bool(row.record.directories), row.directories.casefold()),
    "note": lambda row: (not row.record.note, row.note.casefold()),
}


def _by_name(row: TokenRow) -> tuple[NameKey, str, str]:
    return (row.name_key, row.folded, row.id)


def sort_rows(rows: Iterable[TokenRow], sort: Sort) -> list[TokenRow]:
    """Rows in `sort` order; equal keys stay in name order (the sort is stable)."""
    by_name = sorted(rows, key=_by_name, reverse=sort.column == "name" and sort.descending)
    primary = _PRIMARY.get(sort.column)
    if primary is None:
        return by_name
    return sorted(by_name, key=primary, reverse=sort.descending)  # type: ignore[arg-type]
