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
from typing import ClassVar, NamedTuple, Protocol

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, Row, RowKey

from tui.table_model import CELL_PADDING, COLUMNS, Cell

_LABELS = {spec.key: spec.label for spec in COLUMNS}


class TableRow(Protocol):
    """What `set_rows` needs of a row (`table_model.TokenRow` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def cells(self) -> Sequence[Cell]: ...


class _CachedRow(NamedTuple):
    cells: Sequence[Cell]
    key: RowKey
    row: Row
    by_column: dict[ColumnKey, Cell]
    offset: tuple[RowKey, int]


class TokenTable(DataTable[Cell]):
    """One row per token, keyed by the token id; row cursor; fixed-width columns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # DataTable's own enter binding, given a footer label: it opens the details.
        Binding("enter", "select_cursor", "Details", key_display="⏎", id="tokens.details"),
        # k9s / lazygit / vi keys; home and end go to the first and last token
        # (DataTable's own scroll sideways, which a row cursor has no use for).
        Binding("j", "cursor_down", "Down", show=False, id="tokens.down"),
        Binding("k", "cursor_up", "Up", show=False, id="tokens.up"),
        Binding("g,home", "scroll_top", "First", show=False, id="tokens.first"),
        Binding("G,shift+g,end", "scroll_bottom", "Last", show=False, id="tokens.last"),
    ]

    DEFAULT_CSS = """
    TokenTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        # Set before DataTable's __init__, whose watchers already read ordered_rows.
        self._fast_layout: tuple[int, list[Row], list[tuple[RowKey, int]]] = (-1, [], [])
        super().__init__(
            id=id,
            cursor_type="row",
            cell_padding=CELL_PADDING,
            show_row_labels=False,
        )
        self._widths: dict[str, int] = {}
        self._headers: dict[str, str] = {}
        # Per token: its RowKey, Row and cells by column key, reused across set_rows
        # calls (filtering re-lists the same rows over and over).
        self._row_cache: dict[str, _CachedRow] = {}

    @property
    def column_widths(self) -> Mapping[str, int]:
        return self._widths

    def set_columns(
        self, widths: Mapping[str, int], labels: Mapping[str, str] | None = None
    ) -> bool:
        """Show the columns in `widths` (in table order) at those widths.

        `labels` replaces a column's header text (the sort indicator); a change of
        labels alone is made in place. Returns True if the columns themselves
        changed; the rows must then be set again.
        """
        wanted = {spec.key: widths[spec.key] for spec in COLUMNS if spec.key in widths}
        headers = {key: (labels or {}).get(key, _LABELS[key]) for key in wanted}
        if wanted == self._widths:
            if headers != self._headers:
                for key, header in headers.items():
                    self.columns[ColumnKey(key)].label = Text(header)
                self._headers = headers
                self._clear_caches()
                self.refresh()
            return False
        self.clear(columns=True)
        self._row_cache.clear()
        for spec in COLUMNS:
            if spec.key in wanted:
                self.add_column(Text(headers[spec.key]), key=spec.key, width=wanted[spec.key])
        self._widths = wanted
        self._headers = headers
        return True

    @property
    def headers(self) -> Mapping[str, str]:
        """The header text of each shown column."""
        return self._headers

    def set_rows(self, rows: Sequence[TableRow]) -> None:
        """Replace every row, in order; each row's `id` is its key.

        Cells for columns not currently shown are skipped. The cursor goes back to
        the first row; callers move it where it belongs (see `select_key`).
        """
        # clear() empties the row-offset list; hand it an empty one rather than
        # have DataTable build the old list just to clear it.
        self._fast_layout = (self._update_count, [], [])
        self.clear()
        shown = [i for i, spec in enumerate(COLUMNS) if spec.key in self._widths]
        keys = [column.key for column in self.ordered_columns]
        cache = self._row_cache
        data: dict[RowKey, dict[ColumnKey, Cell]] = {}
        meta: dict[RowKey, Row] = {}
        locations: dict[RowKey, int] = {}
        ordered: list[Row] = []
        offsets: list[tuple[RowKey, int]] = []
        for index, source in enumerate(rows):
            cells = source.cells
            entry = cache.get(source.id)
            if entry is None or entry.cells is not cells:
                row_key = RowKey(source.id)
                by_column = {k: cells[i] for k, i in zip(keys, shown, strict=True)}
                entry = _CachedRow(cells, row_key, Row(row_key, 1), by_column, (row_key, 0))
                cache[source.id] = entry
            data[entry.key] = entry.by_column
            meta[entry.key] = entry.row
            locations[entry.key] = index
            ordered.append(entry.row)
            offsets.append(entry.offset)
        self._data = data
        self.rows = meta
        self._row_locations = TwoWayDict(locations)
        # Nothing in _new_rows: the column widths are fixed, so the idle pass only
        # recomputes the virtual size (from the offsets computed here).
        self._require_update_dimensions = True
        self._update_count += 1
        self._fast_layout = (self._update_count, ordered, offsets)
        self.check_idle()
        self.refresh()
        self.refresh_bindings()

    # DataTable rebuilds these two lists from scratch after every change, walking
    # every row; set_rows already has them. Any other change (a resize, say) bumps
    # _update_count and DataTable's own computation takes over again.

    @property
    def ordered_rows(self) -> list[Row]:
        count, ordered, _ = self._fast_layout
        return ordered if count == self._update_count else super().ordered_rows

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        count, _, offsets = self._fast_layout
        return offsets if count == self._update_count else super()._y_offsets

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor" and self.row_count == 0:
            return None  # shown dimmed in the footer: there is nothing to open
        return super().check_action(action, parameters)

    def forget_rows(self) -> None:
        """Drop the per-token cache (call when the tokens themselves change)."""
        self._row_cache.clear()

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
