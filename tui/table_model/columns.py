"""The table's columns: their headers, their natural widths, and which fit.

A terminal may be 60 columns wide or 200. The widths are measured over every
row, not only those the filter shows, so columns do not jump about while a filter
is typed; on a narrow terminal the name shrinks first, then whole columns give
way in a fixed order (all of them are in the details screen), never the sorted one.
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
from tui.table_model.texts import LEGACY_MARK


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
