"""Every row of one version of the store at one moment, ready for the table.

Building 100,000 rows takes a while, so it happens off the UI thread (the first
load, each reload, the once-a-minute refresh of relative times), reuses the rows
of the previous view that did not change, and, for a large store, measures only
the first rows before the view is shown (`EAGER_LIMIT`): the rest follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from core.model.records import TokenRecord, TokenStatus
from tui.table_model.columns import natural_widths
from tui.table_model.rows import PLAIN_COLOURS, RowColours, TokenRow
from tui.table_model.sorting import Sort, sort_rows


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
    home: Path | None = None,
    eager_limit: int | None = None,
) -> TableView:
    """The rows of `records` at `now` in `sort` order (`home`: shown as `~` in the
    directories column); rows of `previous` are reused where nothing changed."""
    records = tuple(records)
    now = in_records_zone(now, records)
    reuse: Mapping[str, TokenRow] = {}
    if previous is not None and previous.now == now and previous.colours == colours:
        reuse = previous.by_id
    rows: list[TokenRow] = []
    for record in records:
        row = reuse.get(record.id)
        rows.append(
            row
            if row is not None and row.record is record
            else TokenRow(record, now, colours, home)
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
