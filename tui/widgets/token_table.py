"""The token table: a DataTable that can replace all its rows in one fast step.

`DataTable.add_row` is built for incremental updates: each call validates the
cursor, and at the next idle every new cell is measured through Rich's console
(about 2 s for 10,000 rows of seven cells). Filtering re-lists the rows on every
keystroke, so the table here takes a different route: columns have fixed widths
computed once per file version (`table_model.fit_columns`), cells are `Text`
that truncate themselves, and `set_rows` fills DataTable's row structures
directly - nothing needs measuring, and only the visible lines are ever rendered.

This touches DataTable internals (`_data`, `rows`, `_row_locations`). Textual is
pinned exactly in pyproject, and `tests/tui/test_token_table.py` checks that a
table filled by `set_rows` is indistinguishable from one filled by `add_row`, so
an upgrade that changes those internals fails a test instead of the screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets._data_table import Row, RowKey

from tui.table_model import CELL_PADDING, COLUMNS


class TokenTable(DataTable[Text]):
    """One row per token, keyed by the token id; row cursor; fixed-width columns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # DataTable's own enter binding, given a footer label: it opens the details.
        Binding("enter", "select_cursor", "Details", key_display="⏎", id="tokens.details"),
    ]

    DEFAULT_CSS = """
    TokenTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            cursor_type="row",
            cell_padding=CELL_PADDING,
            show_row_labels=False,
        )
        self._widths: dict[str, int] = {}

    @property
    def column_widths(self) -> Mapping[str, int]:
        return self._widths

    def set_columns(self, widths: Mapping[str, int]) -> bool:
        """Show the columns in `widths` (in table order) at those widths.

        Returns True if the columns changed; the rows must then be set again.
        """
        wanted = {spec.key: widths[spec.key] for spec in COLUMNS if spec.key in widths}
        if wanted == self._widths:
            return False
        self.clear(columns=True)
        for spec in COLUMNS:
            if spec.key in wanted:
                self.add_column(spec.label, key=spec.key, width=wanted[spec.key])
        self._widths = wanted
        return True

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        """Replace every row: `(row key, cells in COLUMNS order)` for each.

        Cells for columns not currently shown are skipped. The cursor goes back to
        the first row; callers move it where it belongs (see `select_key`).
        """
        self.clear()
        shown = [i for i, spec in enumerate(COLUMNS) if spec.key in self._widths]
        ordered = self.ordered_columns
        keys = [column.key for column in ordered]
        data = self._data
        meta = self.rows
        locations: dict[RowKey, int] = {}
        for index, (key, cells) in enumerate(rows):
            row_key = RowKey(key)
            data[row_key] = {k: cells[i] for k, i in zip(keys, shown, strict=True)}
            meta[row_key] = Row(row_key, 1)
            locations[row_key] = index
        self._row_locations = TwoWayDict(locations)
        # Nothing in _new_rows: the column widths are fixed, so the idle pass only
        # recomputes the virtual size.
        self._require_update_dimensions = True
        self._update_count += 1
        self.check_idle()
        self.refresh()

    def selected_key(self) -> str | None:
        """The key (token id) of the row under the cursor, or None if there are no rows."""
        if self.row_count == 0:
            return None
        row_key = self._row_locations.get_key(self.cursor_row)
        return None if row_key is None else row_key.value

    def select_key(self, key: str | None, *, fallback_row: int = 0) -> None:
        """Put the cursor on the row with `key`; else on `fallback_row` (clamped)."""
        if self.row_count == 0:
            return
        row = fallback_row
        if key is not None:
            index = self._row_locations.get(RowKey(key))
            if index is not None:
                row = index
        row = max(0, min(row, self.row_count - 1))
        self.move_cursor(row=row, animate=False, scroll=True)
