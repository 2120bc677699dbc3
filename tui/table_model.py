"""What the token table shows: cells, colours, sort orders, the filter, column widths.

Pure functions over `core` records and Rich `Text`, no widgets, so the rules for
what a row looks like can be tested without running an app, and the table widget
only has to put the cells on screen.

Every cell is plain text rendered as a Rich `Text`: a name like `[bold]x` or one
holding an escape sequence (hand-written into the file) is shown literally, after
`escape_controls`, and is never read as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from core.display import escape_controls, format_date, relative_time
from core.models import TokenRecord, TokenStatus
from core.permissions import Permission


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("name", "name"),
    ColumnSpec("id", "id"),
    ColumnSpec("permissions", "perms"),
    ColumnSpec("created", "created"),
    ColumnSpec("expires", "expires"),
    ColumnSpec("status", "status"),
    ColumnSpec("last_used", "last used"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)

# On a narrow terminal these columns are left out, in this order, before the
# name column gets narrower than NAME_MIN (both are in the details screen).
DROPPABLE: tuple[str, ...] = ("created", "last_used")
NAME_MIN = 12
CELL_PADDING = 1  # DataTable's default: one cell each side of every column


class SortKey(StrEnum):
    """The orders `s` cycles through, in cycle order."""

    NAME = "name"
    EXPIRES = "expires"
    CREATED = "created"
    LAST_USED = "last used"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]

    @property
    def description(self) -> str:
        return _SORT_DESCRIPTIONS[self]


_SORT_DESCRIPTIONS = {
    SortKey.NAME: "name A→Z",
    SortKey.EXPIRES: "expires soonest first",
    SortKey.CREATED: "created newest first",
    SortKey.LAST_USED: "last used most recent first",
}

# Clicking a column header sorts by it, when the column has an order.
SORT_FOR_COLUMN: Mapping[str, SortKey] = {
    "name": SortKey.NAME,
    "expires": SortKey.EXPIRES,
    "status": SortKey.EXPIRES,
    "created": SortKey.CREATED,
    "last_used": SortKey.LAST_USED,
}


@dataclass(frozen=True, slots=True)
class RowColours:
    """Row styles for tokens that need attention (taken from the app theme)."""

    expiring: Style
    expired: Style


PLAIN_COLOURS = RowColours(Style(), Style())


_PERMISSION_LETTERS = ((Permission.READ, "r"), (Permission.WRITE, "w"), (Permission.EXECUTE, "x"))


def short_permissions(perms: Iterable[Permission]) -> str:
    """`rwx`, `r--`, `rw-`: the three permissions in a fixed place each, like `ls -l`."""
    held = set(perms)
    return "".join(letter if p in held else "-" for p, letter in _PERMISSION_LETTERS)


def long_permissions(perms: Iterable[Permission]) -> str:
    return ", ".join(p.value for p in perms)


def expires_text(record: TokenRecord, now: datetime) -> str:
    """`in 89 days`, `expired 2 days ago` or `never`."""
    if record.expires_at is None:
        return "never"
    if record.expires_at > now:
        return relative_time(record.expires_at, now)
    return f"expired {relative_time(record.expires_at, now)}"


def last_used_text(record: TokenRecord, now: datetime) -> str:
    if record.last_used_at is None:
        return "never"
    return relative_time(record.last_used_at, now)


def display_name(record: TokenRecord) -> str:
    """The name as it may reach a terminal: control characters made visible."""
    return escape_controls(record.name)


class Cell:
    """One table cell: plain text and a style, turned into Rich `Text` only when painted.

    A store can hold 10,000 tokens, seven cells each, and the table paints only the
    rows on screen; building a `Text` for every cell up front took most of a second.
    The text is never parsed as markup.
    """

    __slots__ = ("plain", "style")

    def __init__(self, plain: str, style: Style) -> None:
        self.plain = plain
        self.style = style

    def __rich__(self) -> Text:
        # no_wrap + ellipsis: a cell wider than its column ends in "…" instead of wrapping.
        return Text(self.plain, style=self.style, no_wrap=True, overflow="ellipsis", end="")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell):
            return NotImplemented
        return self.plain == other.plain and self.style == other.style

    def __hash__(self) -> int:
        return hash((self.plain, self.style))

    def __repr__(self) -> str:
        return f"Cell({self.plain!r})"


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One record as the table shows it, computed once per file version."""

    id: str
    record: TokenRecord
    status: TokenStatus
    cells: tuple[Cell, ...]  # in COLUMN_KEYS order
    widths: tuple[int, ...]  # cell width of each cell's text
    haystack: str  # what the filter searches: the name (as typed and as shown) and id


def make_row(record: TokenRecord, now: datetime, colours: RowColours) -> TokenRow:
    status = record.status(now)
    if status is TokenStatus.EXPIRED:
        style = colours.expired
    elif status is TokenStatus.EXPIRING:
        style = colours.expiring
    else:
        style = Style()
    name = display_name(record)
    values = (
        name,
        record.id,
        short_permissions(record.permissions),
        format_date(record.created_at),
        expires_text(record, now),
        status.value,
        last_used_text(record, now),
    )
    cells = tuple(Cell(value, style) for value in values)
    haystack = "\0".join({record.name.casefold(), name.casefold(), record.id})
    widths = tuple(cell_len(v) for v in values)
    return TokenRow(record.id, record, status, cells, widths, haystack)


def make_rows(records: Iterable[TokenRecord], now: datetime, colours: RowColours) -> list[TokenRow]:
    return [make_row(record, now, colours) for record in records]


_FAR_FUTURE = float("inf")


def _sort_key(sort: SortKey) -> Callable[[TokenRow], tuple[object, ...]]:
    """Every order ends with the name and the id, so it is total and stable."""

    def tail(row: TokenRow) -> tuple[str, str]:
        return (row.record.name.casefold(), row.record.id)

    if sort is SortKey.NAME:
        return tail
    if sort is SortKey.EXPIRES:  # soonest (and already expired) first, never last
        return lambda row: (
            row.record.expires_at.timestamp() if row.record.expires_at else _FAR_FUTURE,
            *tail(row),
        )
    if sort is SortKey.CREATED:  # newest first
        return lambda row: (-row.record.created_at.timestamp(), *tail(row))
    # LAST_USED: most recently used first, never used last
    return lambda row: (
        -row.record.last_used_at.timestamp() if row.record.last_used_at else _FAR_FUTURE,
        *tail(row),
    )


def sort_rows(rows: Iterable[TokenRow], sort: SortKey) -> list[TokenRow]:
    return sorted(rows, key=_sort_key(sort))


@dataclass(frozen=True)
class TableView:
    """Everything the table needs for one version of the store at one moment.

    Building it is the expensive part of showing a store (about 25 µs a token), so
    reloads and the once-a-minute refresh of relative times build it in a thread.
    """

    now: datetime
    sort: SortKey
    rows: list[TokenRow]  # every token, in `sort` order
    by_id: dict[str, TokenRow]
    natural: dict[str, int]  # see natural_widths
    expiring: int
    expired: int

    def resorted(self, sort: SortKey) -> TableView:
        if sort is self.sort:
            return self
        return replace(self, sort=sort, rows=sort_rows(self.rows, sort))


def build_view(
    records: Iterable[TokenRecord], now: datetime, colours: RowColours, sort: SortKey
) -> TableView:
    rows = make_rows(records, now, colours)
    return TableView(
        now=now,
        sort=sort,
        rows=sort_rows(rows, sort),
        by_id={row.id: row for row in rows},
        natural=natural_widths(rows),
        expiring=sum(1 for row in rows if row.status is TokenStatus.EXPIRING),
        expired=sum(1 for row in rows if row.status is TokenStatus.EXPIRED),
    )


def filter_rows(rows: Sequence[TokenRow], query: str) -> Sequence[TokenRow]:
    """Rows whose name or id contains `query` (case-insensitive); all rows for ''.

    One substring test per row over a string prepared in `make_row`: fast enough
    to run on every keystroke with 10,000 tokens.
    """
    needle = query.strip().casefold()
    if not needle:
        return rows
    return [row for row in rows if needle in row.haystack]


def natural_widths(rows: Iterable[TokenRow]) -> dict[str, int]:
    """Each column's width if nothing had to be cut: the widest cell or label.

    Measured over *all* rows, not only those the filter shows, so columns do not
    jump about while the user types a filter.
    """
    widths = [cell_len(c.label) for c in COLUMNS]
    for row in rows:
        widths = [max(a, b) for a, b in zip(widths, row.widths, strict=True)]
    return dict(zip(COLUMN_KEYS, widths, strict=True))


def fit_columns(natural: Mapping[str, int], available: int) -> dict[str, int]:
    """The columns to show and their widths, for a table `available` cells wide.

    Everything is shown when it fits. Otherwise the name column shrinks (names
    end in "…") down to NAME_MIN, then the DROPPABLE columns are left out one
    by one. If even that does not fit, the table scrolls sideways.
    """
    shown = list(COLUMN_KEYS)
    name_floor = min(NAME_MIN, natural["name"])

    def room_for_name(keys: list[str]) -> int:
        others = sum(natural[k] for k in keys if k != "name")
        return available - others - 2 * CELL_PADDING * len(keys)

    for victim in (None, *DROPPABLE):
        if victim is not None:
            shown.remove(victim)
        room = room_for_name(shown)
        if room >= name_floor:
            break
    name_width = max(name_floor, min(natural["name"], room))
    return {key: name_width if key == "name" else natural[key] for key in shown}
