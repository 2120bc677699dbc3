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
from operator import attrgetter

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from core.model.permissions import Permission
from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls
from core.present import format_date, relative_time
from core.present import permission_letters as short_permissions


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
    name = record.name
    # Printable ASCII has nothing to escape (the common case, and 50x faster).
    return name if name.isascii() and name.isprintable() else escape_controls(name)


def text_width(text: str) -> int:
    """Terminal cells `text` takes (ASCII: its length)."""
    return len(text) if text.isascii() else cell_len(text)


class Cell:
    """One table cell: plain text and a style, turned into Rich `Text` only when painted.

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


_PERMS_TEXT: dict[tuple[Permission, ...], str] = {}


def _perms_text(perms: tuple[Permission, ...]) -> str:
    text = _PERMS_TEXT.get(perms)
    if text is None:
        text = _PERMS_TEXT[perms] = short_permissions(perms)
    return text


class TokenRow:
    """One record as the table shows it.

    What every row needs at once - its status (the counts, the colour), its name
    as shown and the sort key - is computed when the view is built. The rest is
    computed on first use: the two relative times, what the filter searches, and
    the seven `Cell`s (only for rows that are painted). `complete()` computes it
    all, off the UI thread, for views that need every row's texts (widths).
    """

    __slots__ = (
        "_cells",
        "_expires",
        "_haystack",
        "_last_used",
        "folded",
        "id",
        "name",
        "name_width",
        "now",
        "record",
        "status",
        "style",
    )

    def __init__(self, record: TokenRecord, now: datetime, colours: RowColours) -> None:
        status = record.status(now)
        self.id = record.id
        self.record = record
        self.now = now
        self.status = status
        if status is TokenStatus.EXPIRED:
            self.style = colours.expired
        elif status is TokenStatus.EXPIRING:
            self.style = colours.expiring
        else:
            self.style = _NO_STYLE
        name = display_name(record)
        self.name = name
        self.name_width = text_width(name)
        self.folded = record.name.casefold()
        self._expires: str | None = None
        self._last_used: str | None = None
        self._haystack: str | None = None
        self._cells: tuple[Cell, ...] | None = None

    @property
    def expires(self) -> str:
        text = self._expires
        if text is None:
            text = self._expires = expires_text(self.record, self.now)
        return text

    @property
    def last_used(self) -> str:
        text = self._last_used
        if text is None:
            text = self._last_used = last_used_text(self.record, self.now)
        return text

    @property
    def haystack(self) -> str:
        """What the filter searches: the name as typed and as shown, and the id."""
        text = self._haystack
        if text is None:
            folded, shown = self.folded, self.name.casefold()
            text = f"{folded}\0{self.id}" if shown == folded else f"{folded}\0{shown}\0{self.id}"
            self._haystack = text
        return text

    @property
    def cells(self) -> tuple[Cell, ...]:
        """The seven cells, in COLUMN_KEYS order (built on first use)."""
        cells = self._cells
        if cells is None:
            record, style = self.record, self.style
            cells = self._cells = (
                Cell(self.name, style),
                Cell(record.id, style),
                Cell(_perms_text(record.permissions), style),
                Cell(format_date(record.created_at), style),
                Cell(self.expires, style),
                Cell(status_text(record, self.status), style),
                Cell(self.last_used, style),
            )
        return cells

    @property
    def cells_built(self) -> bool:
        """Whether `cells` has been asked for (only rows that were painted)."""
        return self._cells is not None

    @staticmethod
    def containing(rows: Iterable[TokenRow], needle: str) -> list[TokenRow]:
        """The rows whose filter text (`haystack`) contains `needle` (case-folded).

        One pass that reads each row's kept text directly, and calls the property
        only for rows that have none yet: at 100,000 rows a property call per
        row would be a third of a keystroke's time.
        """
        return [row for row in rows if needle in (row._haystack or row.haystack)]

    def complete(self) -> None:
        """Compute the relative times and the filter's text now."""
        if self._haystack is None:
            self.haystack  # noqa: B018 - computed and kept
        if self._expires is None:
            self._expires = expires_text(self.record, self.now)
        if self._last_used is None:
            self._last_used = last_used_text(self.record, self.now)

    def __repr__(self) -> str:
        return f"TokenRow({self.id!r}, {self.name!r})"


_NO_STYLE = Style()


_FAR_FUTURE = float("inf")
_STATUS_RANK = {TokenStatus.ACTIVE: 0, TokenStatus.EXPIRING: 1, TokenStatus.EXPIRED: 2}


def _expires_at(row: TokenRow) -> float:
    expires = row.record.expires_at
    return expires.timestamp() if expires else _FAR_FUTURE  # never: after every date


_PRIMARY: Mapping[str, Callable[[TokenRow], object]] = {
    "id": lambda row: row.id,
    "permissions": lambda row: (
        len(row.record.permissions),
        _perms_text(row.record.permissions),
    ),
    "created": lambda row: row.record.created_at,
    "expires": _expires_at,
    "status": lambda row: (_STATUS_RANK[row.status], -_expires_at(row)),
    # never used: before every use, so "most recent first" puts it last
    "last_used": lambda row: (
        row.record.last_used_at.timestamp() if row.record.last_used_at else -_FAR_FUTURE
    ),
}


def _by_name(row: TokenRow) -> tuple[str, str]:
    return (row.folded, row.id)


def sort_rows(rows: Iterable[TokenRow], sort: Sort) -> list[TokenRow]:
    """Rows in `sort` order; equal keys stay in name order (the sort is stable)."""
    by_name = sorted(rows, key=_by_name, reverse=sort.column == "name" and sort.descending)
    primary = _PRIMARY.get(sort.column)
    if primary is None:
        return by_name
    return sorted(by_name, key=primary, reverse=sort.descending)  # type: ignore[arg-type]


def in_records_zone(now: datetime, records: Sequence[TokenRecord]) -> datetime:
    """`now`, the same moment, with the tzinfo object the records' datetimes share.

    Comparing or subtracting two aware datetimes with different tzinfo objects
    asks both for their UTC offset (pydantic's `TzInfo` answers from Rust, slowly);
    with the same object Python compares the fields directly. Every status and
    relative time of a 100,000-token view compares with `now`: half the time.
    """
    if not records:
        return now
    zone = records[0].created_at.tzinfo
    if zone is None or now.tzinfo is zone:
        return now
    return now.astimezone(zone)


EAGER_LIMIT = 20_000
"""Up to this many tokens a view is built complete (every row's texts measured)
before it is shown. Beyond it the first view measures the relative times of the
first PREVIEW_ROWS rows only, so it is shown sooner, and the complete one (exact
widths, the filter's texts) follows from a thread; its columns may then widen a
little, once."""
PREVIEW_ROWS = 200


@dataclass(frozen=True)
class TableView:
    """Everything the table needs for one version of the store at one moment.

    Built off the UI thread (the first load, reloads, and the once-a-minute
    refresh of relative times); rows whose record did not change are taken over
    from the previous view within the same minute.
    """

    now: datetime
    sort: Sort
    rows: list[TokenRow]  # every token, in `sort` order
    by_id: dict[str, TokenRow]
    natural: dict[str, int]  # see natural_widths
    expiring: int
    expired: int
    colours: RowColours = PLAIN_COLOURS
    complete: bool = True
    """Every row's texts are computed and measured (see EAGER_LIMIT)."""

    def resorted(self, sort: Sort) -> TableView:
        if sort == self.sort:
            return self
        return replace(self, sort=sort, rows=sort_rows(self.rows, sort))

    def completed(self) -> TableView:
        """This view with every row's texts computed and the widths exact."""
        if self.complete:
            return self
        for row in self.rows:
            row.complete()
        natural = natural_widths(self.rows, counts=(self.expiring, self.expired))
        return replace(self, natural=natural, complete=True)


def build_view(
    records: Iterable[TokenRecord],
    now: datetime,
    colours: RowColours,
    sort: Sort,
    previous: TableView | None = None,
    *,
    eager_limit: int | None = None,
) -> TableView:
    records = tuple(records)
    now = in_records_zone(now, records)
    reuse: Mapping[str, TokenRow] = {}
    if previous is not None and previous.now == now and previous.colours == colours:
        reuse = previous.by_id
    rows: list[TokenRow] = []
    for record in records:
        row = reuse.get(record.id)
        rows.append(
            row if row is not None and row.record is record else TokenRow(record, now, colours)
        )
    expiring = expired = 0
    for row in rows:
        if row.status is TokenStatus.EXPIRING:
            expiring += 1
        elif row.status is TokenStatus.EXPIRED:
            expired += 1
    ordered = sort_rows(rows, sort)
    complete = len(rows) <= (EAGER_LIMIT if eager_limit is None else eager_limit)
    if complete:
        for row in rows:
            row.complete()
    natural = natural_widths(
        rows, measure=None if complete else ordered[:PREVIEW_ROWS], counts=(expiring, expired)
    )
    if not complete and previous is not None:
        # Until this view is completed, the relative times are as wide as they
        # were: the columns do not narrow for a moment every minute.
        for key in ("expires", "last_used"):
            natural[key] = max(natural[key], previous.natural[key])
    return TableView(
        now=now,
        sort=sort,
        rows=ordered,
        by_id={row.id: row for row in rows},
        natural=natural,
        expiring=expiring,
        expired=expired,
        colours=colours,
        complete=complete,
    )


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


_RECORD = attrgetter("record")
_NAME_WIDTH = attrgetter("name_width")
_ID = attrgetter("id")
_CREATED_YEAR = attrgetter("created_at.year")


def natural_widths(
    rows: Iterable[TokenRow],
    measure: Sequence[TokenRow] | None = None,
    *,
    counts: tuple[int, int] | None = None,
) -> dict[str, int]:
    """Each column's width if nothing had to be cut: the widest cell or label.

    Measured over *all* rows, not only those the filter shows, so columns do not
    jump about while the user types a filter. The relative times are measured
    over `measure` if given (a preview: the rows shown first), else over all
    rows. `counts` (expiring, expired) saves counting the statuses again. Texts
    whose width is known without looking at each (a date, `rw-`) are not measured.
    """
    rows = list(rows)
    timed = rows if measure is None else measure
    widths = {spec.key: cell_len(spec.label) for spec in COLUMNS}
    if not rows:
        return widths

    def widest(key: str, values: Iterable[int]) -> None:
        widths[key] = max(widths[key], max(values, default=0))

    records = list(map(_RECORD, rows))
    widest("name", map(_NAME_WIDTH, rows))
    widest("id", map(len, map(_ID, rows)))
    widest("permissions", (len(Permission),))  # always three letters
    years = list(map(_CREATED_YEAR, records))
    widest("created", (len(format_date(datetime(y, 6, 1))) for y in (min(years), max(years))))
    widest("expires", (len(row.expires) for row in timed))
    if counts is None:
        counts = (
            sum(1 for row in rows if row.status is TokenStatus.EXPIRING),
            sum(1 for row in rows if row.status is TokenStatus.EXPIRED),
        )
    expiring, expired = counts
    present = {
        TokenStatus.ACTIVE: len(rows) > expiring + expired,
        TokenStatus.EXPIRING: expiring > 0,
        TokenStatus.EXPIRED: expired > 0,
    }
    legacy = {row.status for row in rows if row.record.legacy}
    widest(
        "status",
        (
            len(status.value) + (len(LEGACY_MARK) if status in legacy else 0)
            for status, shown in present.items()
            if shown
        ),
    )
    widest("last_used", (len(row.last_used) for row in timed))
    return widths


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
