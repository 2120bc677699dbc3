"""The token table: a virtual table that paints only the rows on screen.

A store can hold 100,000 tokens. Textual's `DataTable` keeps every row in its
own structures (a dict of cells, row metadata, key-to-index maps, a list of
y offsets) and rebuilds them on every change, so filtering 100,000 rows cost a
quarter of a second per keystroke before anything was painted. Here the model
stays plain Python - a sequence of rows in display order, held by reference -
and `render_line` turns only the lines on screen into segments, from each
row's cells (built on first paint, see `table_model.rows.TokenRow`). Replacing
the rows (`set_rows`) is O(1); moving the cursor by key is one scan. What one
line holds across - the columns, where they are, its segments - is
`table_line`'s; this module keeps the rows, the cursor, the keys and the mouse.

It looks and behaves as the `DataTable` it replaces did: the same component
classes and styles (`datatable--cursor`, `datatable--header`, ...), a fixed
header that scrolls sideways with the rows, a row cursor kept by token id,
hover, clicks (a click on the highlighted row selects it, a click on a header
sorts), page up/down, and rows whose cells are cut with "…" to fixed column
widths. `tests/tui/test_token_table.py` renders it next to a stock DataTable
holding the same rows and compares them line by line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.keys import TableKeys
from tui.table_model.columns import CELL_PADDING
from tui.table_model.rows import Cell
from tui.widgets.table_line import HEADER, ShownColumns, TableRow, line_styles, paint_line


class TokenTable(ScrollView, can_focus=True):
    """One row per token, keyed by the token id; a row cursor; fixed-width columns."""

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = list(TableKeys.BINDINGS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datatable--cursor",
        "datatable--hover",
        "datatable--header",
        "datatable--header-cursor",
        "datatable--header-hover",
    }

    # DataTable's own look (its DEFAULT_CSS, less what a row table never uses).
    DEFAULT_CSS = """
    TokenTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        scrollbar-size-vertical: 1;

        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .datatable--header-cursor {
            background: $accent-darken-1;
            color: $foreground;
        }
        & > .datatable--header-hover {
            background: $accent 30%;
        }
        & > .datatable--hover {
            background: $block-hover-background;
        }
    }
    """

    class RowHighlighted(Message):
        """The cursor moved to another row (or the rows under it changed)."""

        def __init__(self, table: TokenTable, row_index: int, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.row_index = row_index
            self.key = key

        @property
        def control(self) -> TokenTable:
            return self.table

    class RowSelected(Message):
        """Enter on a row, or a click on the highlighted row."""

        def __init__(self, table: TokenTable, row_index: int, key: str) -> None:
            super().__init__()
            self.table = table
            self.row_index = row_index
            self.key = key

        @property
        def control(self) -> TokenTable:
            return self.table

    class HeaderSelected(Message):
        """A click on a column header."""

        def __init__(self, table: TokenTable, column_key: str) -> None:
            super().__init__()
            self.table = table
            self.column_key = column_key

        @property
        def control(self) -> TokenTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cursor_type = "row"  # the only kind there is; as DataTable called it
        self.cell_padding = CELL_PADDING
        self._rows: Sequence[TableRow] = ()
        self._columns = ShownColumns(padding=self.cell_padding)
        self._cursor = 0
        self._hover = HEADER - 1  # no row
        self._show_hover = False
        self.version = 0
        """Bumped whenever the rows, the columns or the headers change."""
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._styles: dict[tuple[object, ...], tuple[Style, Style]] = {}
        self._pseudo: object = None  # focus, hover, ...: part of every painted line's key
        self._after_paint: list[Callable[[], object]] = []

    # --- columns -----------------------------------------------------------------------

    @property
    def column_widths(self) -> Mapping[str, int]:
        return self._columns.widths

    @property
    def headers(self) -> Mapping[str, str]:
        """The header text of each shown column."""
        return self._columns.headers

    @property
    def columns(self) -> list[str]:
        """The keys of the shown columns, left to right."""
        return list(self._columns.widths)

    def set_columns(
        self, widths: Mapping[str, int], labels: Mapping[str, str] | None = None
    ) -> bool:
        """Show the columns in `widths` (in table order) at those widths.

        `labels` replaces a column's header text (the sort indicator). Returns True
        if the columns themselves changed.
        """
        wanted = ShownColumns(widths, labels, self.cell_padding)
        changed = wanted.widths != self._columns.widths
        if not changed and wanted.headers == self._columns.headers:
            return False
        self._columns = wanted
        self._changed()
        return changed

    def column_x(self, key: str) -> int:
        """Where a column starts, in cells from the table's left edge (not scrolled)."""
        return self._columns.x_of(key)

    def column_at(self, x: int) -> str | None:
        """The column under an x offset (from the table's left edge, not scrolled)."""
        return self._columns.at(x)

    # --- rows ----------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[TableRow]) -> None:
        """Show `rows`, in order (held by reference; each row's `id` is its key).

        The cursor keeps its row number (clamped); callers move it where it
        belongs (see `select_key`).
        """
        self._rows = rows
        self._cursor = max(0, min(self._cursor, len(rows) - 1))
        self._changed()
        self.refresh_bindings()

    def forget_rows(self) -> None:
        """Drop painted lines (call when the tokens themselves change)."""
        self._lines.clear()

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def rows(self) -> Sequence[TableRow]:
        return self._rows

    def get_row_at(self, row_index: int) -> list[Cell]:
        """The cells of the shown columns of a row."""
        return self._columns.cells_of(self._rows[row_index])

    def get_row_index(self, key: str) -> int:
        index = self._index_of(key)
        if index is None:
            raise KeyError(key)
        return index

    def _index_of(self, key: str) -> int | None:
        for index, row in enumerate(self._rows):
            if row.id == key:
                return index
        return None

    def _changed(self) -> None:
        self.version += 1
        self._lines.clear()
        header = 1 if self._columns.placed else 0
        self.virtual_size = Size(self._columns.width, len(self._rows) + header)
        self.refresh()

    # --- the cursor ----------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def selected_key(self) -> str | None:
        """The key (token id) of the row under the cursor, or None if there are no rows."""
        if not self._rows:
            return None
        return self._rows[self._cursor].id

    def select_key(self, key: str | None, *, fallback_row: int = 0) -> None:
        """Put the cursor on the row with `key`; else on `fallback_row` (clamped)."""
        if not self._rows:
            return
        row = fallback_row
        if key is not None:
            index = self._index_of(key)
            if index is not None:
                row = index
        self.move_cursor(row=row, animate=False, scroll=True)

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        count = len(self._rows)
        row = max(0, min(row, count - 1)) if count else 0
        old, self._cursor = self._cursor, row
        if scroll:
            self._scroll_cursor_into_view(animate=animate)
        if old != row:
            self._refresh_row(old)
            self._refresh_row(row)
        if count:
            self.post_message(self.RowHighlighted(self, row, self._rows[row].id))

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        if not self._rows:
            return
        region = Region(int(self.scroll_x), self._cursor + 1, self.size.width, 1)
        self.scroll_to_region(region, animate=animate, spacing=Spacing(1, 0, 0, 0), force=True)

    def _refresh_row(self, row: int) -> None:
        y = row + 1 - int(self.scroll_y)
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # --- actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == TableKeys.DETAILS.action and not self._rows:
            return None  # shown dimmed in the footer: there is nothing to open
        return True

    def _keyboard(self) -> None:
        if self._show_hover:
            self._show_hover = False
            self.refresh()

    def action_cursor_up(self) -> None:
        self._keyboard()
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._keyboard()
        self.move_cursor(row=self._cursor + 1)

    def action_scroll_top(self) -> None:
        self._keyboard()
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self._keyboard()
        self.move_cursor(row=len(self._rows) - 1)

    def action_page_down(self) -> None:
        """A page down, as DataTable does it: scroll one page, the cursor with it."""
        self._keyboard()
        height = self.scrollable_content_region.height - 1
        self.scroll_relative(y=height, animate=False, force=True, immediate=True)
        self.move_cursor(row=self._cursor + height, scroll=False)

    def action_page_up(self) -> None:
        self._keyboard()
        height = self.scrollable_content_region.height - 1
        self.scroll_relative(y=-height, animate=False, immediate=True)
        self.move_cursor(row=self._cursor - height, scroll=False)

    def action_select_cursor(self) -> None:
        self._keyboard()
        if self._rows:
            self.post_message(self.RowSelected(self, self._cursor, self._rows[self._cursor].id))

    # --- the mouse -----------------------------------------------------------------------

    def _row_at(self, y: int) -> int:
        """The row index at a y offset in the widget (HEADER for the header line)."""
        return HEADER if y == 0 else y - 1 + int(self.scroll_y)

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        offset = event.get_content_offset(self)
        hover = HEADER - 1 if offset is None else self._row_at(offset.y)
        if hover >= len(self._rows):
            hover = HEADER - 1
        if hover != self._hover or not self._show_hover:
            self._hover = hover
            self._show_hover = True
            self.refresh()

    def _on_leave(self, _: events.Leave) -> None:
        if self._show_hover:
            self._show_hover = False
            self.refresh()

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return  # on a scrollbar
        row = self._row_at(offset.y)
        if row == HEADER:
            column = self.column_at(offset.x + int(self.scroll_x))
            if column is not None:
                self.post_message(self.HeaderSelected(self, column))
            return
        if row >= len(self._rows):
            return
        event.stop()
        again = row == self._cursor
        self.move_cursor(row=row)
        if again:
            self.post_message(self.RowSelected(self, row, self._rows[row].id))

    # --- painting ------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()

    def _cell_styles(self, header: bool, hover: bool, cursor: bool) -> tuple[Style, Style]:
        """`line_styles` for a line in this state, kept until the CSS changes."""
        key = (header, hover, cursor)
        found = self._styles.get(key)
        if found is None:
            found = line_styles(self.get_component_rich_style, header, hover, cursor)
            self._styles[key] = found
        return found

    def call_after_paint(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the table has next painted rows (not merely been
        refreshed): work that can wait should not delay the first rows."""
        self._after_paint.append(callback)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pseudo = self.get_pseudo_class_state()
        lines = super().render_lines(crop)
        if self._after_paint and self._rows:
            waiting, self._after_paint = self._after_paint, []
            for callback in waiting:
                self.call_later(callback)
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base_style = self.rich_style
        row = self._row_at(y)
        if not self._columns.placed or row >= len(self._rows):
            return Strip.blank(width, base_style)
        scroll_x = int(self.scroll_x)
        hover = self._show_hover and row == self._hover
        cursor = row == self._cursor and row != HEADER
        source = None if row == HEADER else self._rows[row]
        key = (
            row,
            None if source is None else source.id,
            hover,
            cursor,
            scroll_x,
            width,
            base_style,
            self._pseudo,
        )
        strip = self._lines.get(key)
        if strip is None:
            styles = self._cell_styles(source is None, hover, cursor)
            strip = paint_line(self._columns, row, source, styles, scroll_x, width, base_style)
            self._lines[key] = strip
        return strip
