"""Across one line of the token table: which columns, where they are, what is painted.

The token table (`token_table`) decides which rows are on screen and in what
state (cursor, hover); everything horizontal is here, pure and testable without an
app: the shown columns and their x positions (for header clicks and sideways
scrolling), and the segments of one line, cut to the column widths with "…" and
styled exactly as a `DataTable` styles a row-cursor table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.table_model.columns import CELL_PADDING, COLUMNS
from tui.table_model.rows import Cell

_LABELS = {spec.key: spec.label for spec in COLUMNS}
_COLUMN_INDEX = {spec.key: index for index, spec in enumerate(COLUMNS)}
HEADER = -1  # the row index of the header line


class TableRow(Protocol):
    """What the table needs of a row (`table_model.rows.TokenRow` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def cells(self) -> Sequence[Cell]: ...


def fit_text(text: str, width: int) -> tuple[str, int]:
    """`text` cut to `width` cells (ending in "…" if cut), and the cells left over."""
    if text.isascii():
        if len(text) > width:
            return (text[: width - 1] + "…" if width > 0 else ""), 0
        return text, width - len(text)
    cells = cell_len(text)
    if cells > width:
        cut = set_cell_size(text, width - 1) + "…" if width > 0 else ""
        return cut, width - cell_len(cut)
    return text, width - cells


class ShownColumns:
    """The columns a table shows, left to right, at fixed widths, with their headers."""

    __slots__ = ("headers", "padding", "placed", "width", "widths")

    def __init__(
        self,
        widths: Mapping[str, int] | None = None,
        labels: Mapping[str, str] | None = None,
        padding: int = CELL_PADDING,
    ) -> None:
        """The columns in `widths`, in table order; `labels` replaces a column's
        header text (the sort indicator)."""
        widths = widths or {}
        self.widths = {spec.key: widths[spec.key] for spec in COLUMNS if spec.key in widths}
        self.headers = {key: (labels or {}).get(key, _LABELS[key]) for key in self.widths}
        self.padding = padding
        # (key, index in COLUMNS and in a row's cells, width), left to right
        self.placed = [(key, _COLUMN_INDEX[key], width) for key, width in self.widths.items()]
        self.width = sum(width + 2 * padding for _key, _index, width in self.placed)
        """The cells the columns take, padding included."""

    def x_of(self, key: str) -> int:
        """Where a column starts, in cells from the table's left edge (not scrolled)."""
        x = 0
        for shown, _index, width in self.placed:
            if shown == key:
                return x
            x += width + 2 * self.padding
        raise KeyError(key)

    def at(self, x: int) -> str | None:
        """The column under an x offset (from the table's left edge, not scrolled)."""
        left = 0
        for key, _index, width in self.placed:
            left += width + 2 * self.padding
            if x < left:
                return key
        return None

    def cells_of(self, row: TableRow) -> list[Cell]:
        """The cells of the shown columns of a row."""
        cells = row.cells
        return [cells[index] for _key, index, _width in self.placed]


def line_styles(
    component: Callable[[str], Style], header: bool, hover: bool, cursor: bool
) -> tuple[Style, Style]:
    """(pre, post) around a cell's own style: as DataTable renders a row cursor
    (the CSS's foreground over the cell's colour on the cursor, the cell's
    colours under the hover). `component` gives a component class's style."""
    style = Style()
    if hover:
        style += component("datatable--hover")
        if header:
            style += component("datatable--header-hover")
    if cursor:
        style += component("datatable--cursor")
        if header:
            style += component("datatable--header-cursor")
    post = Style.from_color(color=style.color)
    base = component("datatable--header") if header else Style()
    return base + style, post


def paint_line(
    columns: ShownColumns,
    row: int,
    source: TableRow | None,
    styles: tuple[Style, Style],
    scroll_x: int,
    width: int,
    base_style: Style,
) -> Strip:
    """One line, `width` cells wide from `scroll_x`: the header if `source` is None.

    `styles` are the line's `line_styles`, for its state (cursor, hover, header).
    """
    header = source is None
    pre, post = styles
    # the header's own style replaces the widget's; a data row builds on it
    row_style = pre if header else base_style + pre
    pad = " " * columns.padding
    pad_style = row_style + post
    segments: list[Segment] = []
    # Each cell as DataTable renders it: padding, the text in its own style, the
    # rest of the column (and the padding) in the row's; each cell's styles
    # carry its row and column as metadata, as DataTable's do (so a screenshot
    # of this table is the same file as one of the DataTable it replaced).
    for column, (key, index, column_width) in enumerate(columns.placed):
        meta = Style.from_meta({"row": row, "column": column})
        if source is None:
            text, left = fit_text(columns.headers[key], column_width)
            segments.append(Segment(pad + text + " " * left + pad, meta + pad_style))
        else:
            cell = source.cells[index]
            text, left = fit_text(cell.plain, column_width)
            segments.append(Segment(pad, meta + pad_style))
            segments.append(Segment(text, meta + row_style + cell.style + post))
            segments.append(Segment(" " * left + pad, meta + pad_style))
    remaining = max(0, width - columns.width)
    out_of_bounds = Style.from_meta({"row": row, "column": 0, "out_of_bounds": True})
    segments.append(Segment(" " * remaining, row_style + out_of_bounds))
    strip = Strip(segments).crop(scroll_x, scroll_x + width)
    return strip.adjust_cell_length(width, base_style).simplify()
