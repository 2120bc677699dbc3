"""The main screen's table: which rows it shows, in what order, at what widths.

`StoreWatch` (the layer above) hands this one a `TableView`, every row of the
store, sorted; here the filter picks the rows to show, the sort can change, the
columns are fitted to the terminal, and the status line counts what is shown.
All of it runs on the UI thread, so it has to be quick at 100,000 rows: the
filter narrows its last matches, and the table paints only the rows on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from rich.cells import cell_len
from textual import on
from textual.screen import Screen
from textual.widgets import Input, Static

from core.model.records import TokenRecord
from core.store import Store
from tui.screens.main.status_line import empty_message, sort_words, status_summary
from tui.table_model.columns import COLUMN_KEYS, column_label, fit_columns
from tui.table_model.filtering import Filtered, filter_view
from tui.table_model.rows import TokenRow
from tui.table_model.sorting import Sort
from tui.table_model.view import TableView
from tui.widgets.token_table import TokenTable

if TYPE_CHECKING:
    from tui.app import AuthApp


class ShownRows(Screen[None]):
    """The rows of `view` that the filter lets through, in `sort` order."""

    def __init__(self, sort: Sort | None = None) -> None:
        super().__init__()
        self.sort = sort or Sort()
        self.query_text = ""
        self.view: TableView | None = None  # every row of the store, sorted
        self._shown: Sequence[TokenRow] = []  # the rows the filter lets through
        self._filtered: Filtered | None = None  # the last filter's matches

    @property
    def auth_app(self) -> AuthApp:
        return cast("AuthApp", self.app)

    @property
    def store(self) -> Store:
        return self.auth_app.store

    @property
    def table(self) -> TokenTable:
        return self.query_one(TokenTable)

    @property
    def selected_id(self) -> str | None:
        return self.table.selected_key() if self._shown else None

    @property
    def selected(self) -> TokenRecord | None:
        token_id = self.selected_id
        row = self.view.by_id.get(token_id) if token_id and self.view else None
        return row.record if row else None

    def on_resize(self) -> None:
        if self.view is not None and self.table.set_columns(self._fit(), self._labels()):
            self._show_rows(keep=self.selected_id)
        else:
            self._update_status()

    # --- what the table shows ----------------------------------------------------------

    def _filter(self, rows: Sequence[TokenRow]) -> Sequence[TokenRow]:
        """The rows whose name or id contains the filter text (see `filter_view`)."""
        view = self.view
        counts = (view.expiring, view.expired) if view else None
        self._filtered = filter_view(rows, self.query_text, self._filtered, counts)
        return rows if self._filtered is None else self._filtered.rows

    def _show_rows(self, *, keep: str | None, first: bool = False) -> None:
        """Put the filtered rows in the table, the cursor on `keep` if it is still
        there, else where it was (`first`: on the first row)."""
        table = self.table
        previous_row = 0 if first else table.cursor_row
        rows = self.view.rows if self.view else []
        self._shown = self._filter(rows)
        table.set_columns(self._fit(), self._labels())
        table.set_rows(self._shown)
        table.select_key(keep, fallback_row=previous_row)
        has_rows = bool(self._shown)
        table.display = has_rows
        empty = self.query_one("#empty", Static)
        empty.display = not has_rows
        if not has_rows:
            empty.update(empty_message(self.view, self.query_text))
        self._update_status()
        self.refresh_bindings()

    def _fit(self) -> dict[str, int]:
        """Column widths for the terminal's width (less one column for the scrollbar).

        The sorted column is kept, and is wide enough for its ▲/▼.
        """
        if self.view is None:
            return {}
        natural = dict(self.view.natural)
        sorted_by = self.sort.column
        natural[sorted_by] = max(natural[sorted_by], cell_len(column_label(sorted_by, self.sort)))
        return fit_columns(natural, self.app.size.width - 1, keep=sorted_by)

    def _labels(self) -> dict[str, str]:
        return {key: column_label(key, self.sort) for key in COLUMN_KEYS}

    def _update_status(self) -> None:
        """The counts (see `status_summary`), then the sort in words, as far as it fits."""
        summary = status_summary(self.view, self.query_text, len(self._shown), self._filtered)
        self.query_one("#status", Static).update(summary)
        if self.view is None:
            return
        # The header's ▲/▼ shows the sort too: in words only where there is room.
        room = self.app.size.width - 2 - summary.cell_length - 2
        self.query_one("#sort", Static).update(sort_words(self.sort, room))

    # --- the cursor, the filter and the sort ---------------------------------------------

    @on(TokenTable.RowHighlighted, "#tokens")
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    @on(TokenTable.HeaderSelected, "#tokens")
    def _header_selected(self, event: TokenTable.HeaderSelected) -> None:
        """A click on a header sorts by that column; on the sorted one, reverses it."""
        self.set_sort(self.sort.clicked(event.column_key))

    def action_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        bar.display = True
        self.query_one("#filter", Input).focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        self.query_one("#filter-bar").display = False
        if filter_input.value:
            filter_input.value = ""  # the Changed handler re-lists the rows
            self.query_text = ""
            self._show_rows(keep=self.selected_id)
        self.table.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """Typing a filter puts the cursor on the first match: where it was before
        (`G`: the last token) is no guide to which match is meant, and a key
        pressed next (`d`) must act on the token the filter found first."""
        if event.value == self.query_text:
            return
        self.query_text = event.value
        self._show_rows(keep=None, first=True)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        if self._shown:
            self.table.focus()

    def action_cycle_sort(self) -> None:
        self.set_sort(self.sort.next())

    def action_sort_by(self, column: str) -> None:
        self.set_sort(Sort.by(column))

    def action_reverse_sort(self) -> None:
        self.set_sort(self.sort.reversed())

    def set_sort(self, sort: Sort) -> None:
        keep = self.selected_id
        self.sort = sort
        self.auth_app.last_sort = sort  # kept if the screen is replaced (store error, fix)
        if self.view is not None:
            self.view = self.view.resorted(sort)
        self._show_rows(keep=keep)
