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
# name column gets narrower than NAME_MIN (all of them are in the details
# screen); the column the table is sorted by is never left out. At 60 columns
# name, permissions, expires and status remain.
DROPPABLE: tuple[str, ...] = ("created", "last_used", "id")
NAME_MIN = 12
NAME_FLOOR = 6  # ... and how narrow it gets before the table scrolls sideways
CELL_PADDING = 1  # DataTable's default: one cell each side of every column

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
}

# The orders `s` steps through, each first in its usual direction, then reversed.
SORT_CYCLE: tuple[str, ...] = ("name", "expires", "created", "last_used")


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


def column_label(key: str, sort: Sort) -> str:
    """A column header: the label, and ▲/▼ on the column the table is sorted by."""
    label = _LABELS[key]
    return f"{label} {sort.arrow}" if key == sort.column else label


_LABELS = {spec.key: spec.label for spec in COLUMNS}


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


LEGACY_MARK = " (legacy)"


def status_text(record: TokenRecord, status: TokenStatus) -> str:
    """`active`, `expiring`, `expired`; a PR #8217 secret is marked `active (legacy)`."""
    return status.value + (LEGACY_MARK if record.legacy else "")


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
        status_text(record, status),
        last_used_text(record, now),
    )
    cells = tuple(Cell(value, style) for value in values)
    haystack = "\0".join({record.name.casefold(), name.casefold(), record.id})
    widths = tuple(cell_len(v) for v in values)
    return TokenRow(record.id, record, status, cells, widths, haystack)


def make_rows(records: Iterable[TokenRecord], now: datetime, colours: RowColours) -> list[TokenRow]:
    return [make_row(record, now, colours) for record in records]


_FAR_FUTURE = float("inf")
_STATUS_RANK = {TokenStatus.ACTIVE: 0, TokenStatus.EXPIRING: 1, TokenStatus.EXPIRED: 2}


def _expires_at(row: TokenRow) -> float:
    expires = row.record.expires_at
    return expires.timestamp() if expires else _FAR_FUTURE  # never: after every date


_PRIMARY: Mapping[str, Callable[[TokenRow], object]] = {
    "id": lambda row: row.id,
    "permissions": lambda row: (len(row.record.permissions), row.cells[2].plain),
    "created": lambda row: row.record.created_at.timestamp(),
    "expires": _expires_at,
    "status": lambda row: (_STATUS_RANK[row.status], -_expires_at(row)),
    # never used: before every use, so "most recent first" puts it last
    "last_used": lambda row: (
        row.record.last_used_at.timestamp() if row.record.last_used_at else -_FAR_FUTURE
    ),
}


def _by_name(row: TokenRow) -> tuple[str, str]:
    return (row.record.name.casefold(), row.record.id)


def sort_rows(rows: Iterable[TokenRow], sort: Sort) -> list[TokenRow]:
    """Rows in `sort` order; equal keys stay in name order (the sort is stable)."""
    by_name = sorted(rows, key=_by_name, reverse=sort.column == "name" and sort.descending)
    primary = _PRIMARY.get(sort.column)
    if primary is None:
        return by_name
    return sorted(by_name, key=primary, reverse=sort.descending)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TableView:
    """Everything the table needs for one version of the store at one moment.

    Building it is the expensive part of showing a store (about 25 µs a token), so
    reloads and the once-a-minute refresh of relative times build it in a thread.
    """

    now: datetime
    sort: Sort
    rows: list[TokenRow]  # every token, in `sort` order
    by_id: dict[str, TokenRow]
    natural: dict[str, int]  # see natural_widths
    expiring: int
    expired: int

    def resorted(self, sort: Sort) -> TableView:
        if sort == self.sort:
            return self
        return replace(self, sort=sort, rows=sort_rows(self.rows, sort))


def build_view(
    records: Iterable[TokenRecord], now: datetime, colours: RowColours, sort: Sort
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


def fit_columns(
    natural: Mapping[str, int], available: int, *, keep: str | None = None
) -> dict[str, int]:
    """The columns to show and their widths, for a table `available` cells wide.

    Everything is shown when it fits. Otherwise the name column shrinks (names
    end in "…") down to NAME_MIN, then the DROPPABLE columns other than `keep`
    (the sorted column) are left out one by one, then the name shrinks down to
    NAME_FLOOR. If even that does not fit, the table scrolls sideways.
    """
    shown = list(COLUMN_KEYS)
    name_min = min(NAME_MIN, natural["name"])

    def room_for_name(keys: list[str]) -> int:
        others = sum(natural[k] for k in keys if k != "name")
        return available - others - 2 * CELL_PADDING * len(keys)

    room = room_for_name(shown)
    for victim in (v for v in DROPPABLE if v != keep):
        if room >= name_min:
            break
        shown.remove(victim)
        room = room_for_name(shown)
    floor = name_min if room >= name_min else min(NAME_FLOOR, natural["name"])
    name_width = max(floor, min(natural["name"], room))
    return {key: name_width if key == "name" else natural[key] for key in shown}
