"""The main screen: the store's tokens in a table, and every action on them.

Data flows one way: a key or a click starts an action; a change to the store runs
in a thread worker and reports back with a message from `tui.messages`; the screen
then re-reads the file (it would notice the change within a second anyway, as it
notices changes made by the CLI in another terminal).

Reading the store and building the table's rows (`table_model.view.build_view`)
also run in a thread, the first time included: the screen shows "Reading the
store…" at once, and the rows when they are ready. The table paints only the
rows on screen (`TokenTable`), and the filter narrows the previous matches when
a key is added to it, so a keystroke costs a few milliseconds at 100,000 tokens.

The screen is built in layers, one idea each, every one a `Screen` that extends
the one below it:

- `shown_rows.ShownRows`: the rows the table shows - the filter, the sort, the
  columns, the status line (its words: `status_line`);
- `store_watch.StoreWatch`: those rows kept in step with the store, off the UI thread;
- `token_actions.TokenActions`: create, pair, edit, delete, rotate, prune, copy, details;
- `MainScreen`, here: the layout, the keys, the footer, and why a key does nothing.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Header, Label, Static

from core.model.text import escape_controls
from tui.commands import MainCommands, ProviderSet
from tui.keys import MainKeys, TableKeys, actions, ids, named
from tui.screens.help import HelpScreen
from tui.screens.main.status_line import READING_STATUS, READING_TABLE
from tui.screens.main.store_watch import write_problem_of
from tui.screens.main.token_actions import TokenActions
from tui.widgets.key_footer import KeyFooter
from tui.widgets.text_field import TextField
from tui.widgets.token_table import TokenTable

K = MainKeys
# Keys that do nothing until the store has been read, or without a token under
# the cursor (dimmed in the footer); pressed anyway, they say why.
_NEEDS_THE_STORE = actions((K.NEW, K.PAIR, K.PRUNE))
_NEEDS_A_SELECTION = actions((K.EDIT, K.DELETE, K.ROTATE, K.DETAILS, K.COPY_ID))
# Keys that change the store: dimmed, and saying why, while it is read-only.
_CHANGES = actions((K.NEW, K.PAIR, K.EDIT, K.DELETE, K.ROTATE, K.PRUNE))
_NO_TOKEN_TO: dict[str, str] = {
    K.EDIT.action: "edit",
    K.DELETE.action: "delete",
    K.ROTATE.action: "rotate",
    K.DETAILS.action: "show",
    TableKeys.DETAILS.action: "show",
    K.COPY_ID.action: "copy",
    K.NEW.action: "create",
    K.PAIR.action: "pair",
    K.PRUNE.action: "prune",
}


class MainScreen(TokenActions):
    """Tokens in a table: create, delete, rotate, inspect, filter, sort."""

    AUTO_FOCUS = "#tokens"
    COMMANDS: ClassVar[ProviderSet] = {MainCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(MainKeys.BINDINGS)

    # The footer shows the keys in this order; on a narrow terminal it leaves out
    # the first of FOOTER_DROP first (? and esc always stay; see KeyFooter).
    FOOTER_ORDER: ClassVar[tuple[str, ...]] = ids(
        K.NEW,
        K.PAIR,
        K.EDIT,
        K.DELETE,
        K.ROTATE,
        K.PRUNE,
        K.COPY_ID,
        TableKeys.DETAILS,
        K.FILTER,
        K.CLEAR_FILTER,
        K.SORT,
        K.HELP,
        K.QUIT,
    )
    FOOTER_DROP: ClassVar[tuple[str, ...]] = ids(
        TableKeys.DETAILS,
        K.COPY_ID,
        K.PAIR,
        K.PRUNE,
        K.QUIT,
        K.SORT,
        K.FILTER,
        K.EDIT,
        K.ROTATE,
        K.DELETE,
        K.NEW,
    )

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filter-bar"):
            yield Label("Filter", id="filter-label")
            filter_input = TextField(placeholder="name or id", id="filter", compact=True)
            filter_input.cursor_blink = self.auth_app.cursor_blink
            yield filter_input
        yield TokenTable(id="tokens")
        yield Static(id="empty")
        with Horizontal(id="status-bar"):
            yield Static(id="status")
            yield Static(id="sort")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.auth_app.store_path_text
        self.query_one("#filter-bar").display = False
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rebuild())
        self.table.display = False
        self.query_one("#empty", Static).update(READING_TABLE)
        self.query_one("#status", Static).update(READING_STATUS)
        if self.snapshot is None:
            self.reload()
        else:
            self._warn_about(self.snapshot)
            self._mark_read_only(write_problem_of(self.store, self.snapshot))
            self._rebuild()
        self.query_one(TokenTable).focus()
        if self.auth_app.poll_interval is not None:
            self.set_interval(self.auth_app.poll_interval, self.poll_store, name="poll store")

    # --- which keys work now -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.view is None and action in _NEEDS_THE_STORE:
            return None  # the store is still being read
        if action in _NEEDS_A_SELECTION and self.selected is None:
            return None
        if action in _CHANGES and self.write_problem is not None:
            return None  # the header says read-only; pressed anyway, the key says why
        if action == K.CLEAR_FILTER.action:
            return bool(self.query_one("#filter-bar").display)
        return True

    def on_key(self, event: events.Key) -> None:
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        action = active.binding.action
        no_token = action in _NEEDS_A_SELECTION and self.selected is None
        if action in _CHANGES and self.view is not None and not no_token:
            self.refuses_changes()  # says why: the store is read-only
            return
        verb = _NO_TOKEN_TO.get(action)
        if verb is not None:
            self.auth_app.say(self._why_no_token(), title=f"No token to {verb}", timeout=4)

    def _why_no_token(self) -> str:
        if self.view is None:
            return "The store is still being read: a moment."
        if not self.view.rows:
            return f"The store has no tokens yet: press {named(K.NEW)} to create one."
        query = escape_controls(self.query_text.strip())
        return f"No token matches the filter “{query}”: press {named(K.CLEAR_FILTER)} to clear it."

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())
