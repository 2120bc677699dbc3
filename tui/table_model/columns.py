"""The table's columns: their headers, their natural widths, and which fit.

A terminal may be 60 columns wide or 200. The widths are measured over every
row, not only those the filter shows, so columns do not jump about while a filter
is typed; on a narrow terminal the name shrinks first, then whole columns give
way in a fixed order (all of them are in the details screen), never the sorted one.
A wide terminal shows two more: the directories and the note, once every other
column has its full width.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from rich.cells import cell_len

from core.model.permissions import Permission
from core.model.records import TokenStatus
from core.present import format_date
from tui.table_model.rows import TokenRow
from tui.table_model.sorting import Sort
from tui.table_model.texts import LEGACY_MARK, text_width


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
    ColumnSpec("directories", "directories"),
    ColumnSpec("note", "note"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)

# On a narrow terminal these columns are left out, in this order, before the
# name column gets narrower than NAME_MIN (all of them are in the details
# screen); the column the table is sorted by is never left out. At 60 columns
# name, permissions, expires and status remain.
DROPPABLE: tuple[str, ...] = ("created", "last_used", "id")
# Shown only when every other column has its full width and there is room for
# these too (at least WIDE_MIN each, at most WIDE_MAX): free text that would
# otherwise crowd out the columns a table is read by.
WIDE_ONLY: tuple[str, ...] = ("directories", "note")
WIDE_MIN = 10
WIDE_MAX = 40
NAME_MIN = 12
NAME_FLOOR = 6  # ... and how narrow it gets before the table scrolls sideways
CELL_PADDING = 1  # DataTable's default: one cell each side of every column


def column_label(key: str, sort: Sort) -> str:
    """A column header: the label, and ▲/▼ on the column the table is sorted by."""
    label = _LABELS[key]
    return f"{label} {sort.arrow}" if key == sort.column else label


_LABELS = {spec.key: spec.label for spec in COLUMNS}


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
    widths = {spec.key: 0 if spec.key in WIDE_ONLY else cell_len(spec.label) for spec in COLUMNS}
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
    # The free-text columns: 0 (never shown) when no token has any.
    for key, of in (("directories", _DIRECTORIES), ("note", _NOTE)):
        found = [text_width(text) for text in map(of, rows) if text]
        if found:
            widths[key] = max(cell_len(_LABELS[key]), *found)
    return widths


def _DIRECTORIES(row: TokenRow) -> str:
    return row.directories if row.record.directories else ""


def _NOTE(row: TokenRow) -> str:
    return row.note


def fit_columns(
    natural: Mapping[str, int], available: int, *, keep: str | None = None
) -> dict[str, int]:
    """The columns to show and their widths, for a table `available` cells wide.

    Every column but the WIDE_ONLY ones is shown when it fits. Otherwise the name
    column shrinks (names end in "…") down to NAME_MIN, then the DROPPABLE
    columns other than `keep` (the sorted column) are left out one by one, then
    the name shrinks down to NAME_FLOOR. If even that does not fit, the table
    scrolls sideways. The WIDE_ONLY columns take the room left over, if there is
    enough for them (the sorted one is shown in any case).
    """
    shown = [key for key in COLUMN_KEYS if key not in WIDE_ONLY or key == keep]
    if keep in WIDE_ONLY:
        # sorted by it: shown, as wide as its header and arrow, at most WIDE_MAX
        natural = {**natural, keep: max(cell_len(_LABELS[keep]) + 2, min(natural[keep], WIDE_MAX))}
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
    widths = {key: name_width if key == "name" else natural[key] for key in shown}
    if room >= natural["name"]:
        widths = _with_wide_columns(widths, natural, available)
    return {key: widths[key] for key in COLUMN_KEYS if key in widths}


def _with_wide_columns(
    widths: dict[str, int], natural: Mapping[str, int], available: int
) -> dict[str, int]:
    """`widths` plus the WIDE_ONLY columns some token has text for, in what is left
    of `available`: each at most its natural width and WIDE_MAX, the room shared
    between them, none under WIDE_MIN (the note gives way first)."""
    wanted = [key for key in WIDE_ONLY if key not in widths and natural[key] > 0]
    left = available - sum(w + 2 * CELL_PADDING for w in widths.values())
    while wanted and left // len(wanted) - 2 * CELL_PADDING < min(
        WIDE_MIN, *(natural[k] for k in wanted)
    ):
        wanted.pop()
    out = dict(widths)
    for index, key in enumerate(wanted):
        share = left // (len(wanted) - index) - 2 * CELL_PADDING
        out[key] = min(natural[key], WIDE_MAX, share)
        left -= out[key] + 2 * CELL_PADDING
    return out
