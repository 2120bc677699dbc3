"""The main screen: the store's tokens in a table, and every action on them.

Data flows one way: a key or a click starts an action; a change to the store runs
in a thread worker and reports back with a message from `tui.messages`; the screen
then re-reads the file (it would notice the change within a second anyway, as it
notices changes made by the CLI in another terminal).

Reading the store and building the table's rows (`table_model.build_view`) also
run in a thread, the first time included: the screen shows "Reading the
store…" at once, and the rows when they are ready. The table paints only the
rows on screen (`TokenTable`), and the filter narrows the previous matches when
a key is added to it, so a keystroke costs a few milliseconds at 100,000 tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from rich.cells import cell_len
from rich.style import Style
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Static

from core.model.errors import StoreError
from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls
from core.model.token_format import Secret
from core.store import Edited, Issued, Snapshot, Store
from tui.clipboard import CopyRoute, copy_text
from tui.commands import MainCommands, ProviderSet
from tui.error_text import one_line
from tui.heap import collector_paused, is_large, settle_heap
from tui.keys import MainKeys, TableKeys, actions, ids, named
from tui.messages import (
    IdCopied,
    SnapshotFailed,
    StoreActionFailed,
    StoreRead,
    TokenIssued,
    TokensDeleted,
    TokensPruned,
    ViewBuilt,
    ViewCompleted,
)
from tui.screens.confirm import ConfirmScreen
from tui.screens.create import CreateTokenScreen
from tui.screens.details import DetailsScreen
from tui.screens.edit import EditTokenScreen
from tui.screens.help import HelpScreen
from tui.screens.rotate import RotateScreen
from tui.screens.secret import SecretScreen
from tui.store_action import run_store_action
from tui.table_model import (
    COLUMN_KEYS,
    Filtered,
    RowColours,
    Sort,
    TableView,
    TokenRow,
    build_view,
    column_label,
    display_name,
    expires_text,
    filter_view,
    fit_columns,
)
from tui.widgets.key_footer import KeyFooter
from tui.widgets.text_field import TextField
from tui.widgets.token_table import TokenTable

if TYPE_CHECKING:
    from tui.app import AuthApp

PRUNE_LISTED = 6  # tokens named in the prune question; the rest are counted
_FIELD_WORDS = {"expires_at": "expiry"}  # what `Edited.changed` names, in words

K = MainKeys
# Keys that do nothing until the store has been read, or without a token under
# the cursor (dimmed in the footer); pressed anyway, they say why.
_NEEDS_THE_STORE = actions((K.NEW, K.PRUNE))
_NEEDS_A_SELECTION = actions((K.EDIT, K.DELETE, K.ROTATE, K.DETAILS, K.COPY_ID))
_NO_TOKEN_TO: dict[str, str] = {
    K.EDIT.action: "edit",
    K.DELETE.action: "delete",
    K.ROTATE.action: "rotate",
    K.DETAILS.action: "show",
    TableKeys.DETAILS.action: "show",
    K.COPY_ID.action: "copy",
    K.NEW.action: "create",
    K.PRUNE.action: "prune",
}


def prune_question(expired: Sequence[TokenRecord], now: datetime) -> Content:
    """`Delete the 2 expired tokens?` and a line naming each (the first few)."""
    count = len(expired)
    lines = [
        Content.assemble("  ", (display_name(r), "bold"), f" ({r.id}), {expires_text(r, now)}")
        for r in expired[:PRUNE_LISTED]
    ]
    if count > PRUNE_LISTED:
        lines.append(Content(f"  and {count - PRUNE_LISTED} more"))
    if count == 1:
        question, clients = "Delete the expired token?", "Clients using it are"
    else:
        question, clients = f"Delete the {count} expired tokens?", "Clients using them are"
    return Content.assemble(
        f"{question}\n\n",
        Content("\n").join(lines),
        f"\n\n{clients} refused already; this cannot be undone.",
    )


class MainScreen(Screen[None]):
    """Tokens in a table: create, delete, rotate, inspect, filter, sort."""

    AUTO_FOCUS = "#tokens"
    COMMANDS: ClassVar[ProviderSet] = {MainCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(MainKeys.BINDINGS)

    # The footer shows the keys in this order; on a narrow terminal it leaves out
    # the first of FOOTER_DROP first (? and esc always stay; see KeyFooter).
    FOOTER_ORDER: ClassVar[tuple[str, ...]] = ids(
        K.NEW,
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
        K.PRUNE,
        K.QUIT,
        K.SORT,
        K.FILTER,
        K.EDIT,
        K.ROTATE,
        K.DELETE,
        K.NEW,
    )

    def __init__(
        self,
        snapshot: Snapshot[Hashable] | None = None,
        *,
        sort: Sort | None = None,
        select: str | None = None,
    ) -> None:
        """`snapshot`: the store as just read; None to read it (in a thread) first."""
        super().__init__()
        self.snapshot = snapshot
        self.sort = sort or Sort()
        self.query_text = ""
        self.view: TableView | None = None  # the rows for `snapshot`, sorted
        self._shown: Sequence[TokenRow] = []  # the rows the filter lets through
        self._filtered: Filtered | None = None  # the last filter's matches
        self._building = False  # a thread is building a new view
        self._build_again = False  # ... and another was asked for meanwhile
        self._seen: Hashable | None = snapshot.version if snapshot else None
        self._reloading = False
        self._reload_again = False
        self._failure: StoreError | None = None
        self._warned: tuple[str, ...] = ()
        # a token just created (or selected before a store problem): the cursor goes there
        self._select_next: str | None = select

    @property
    def auth_app(self) -> AuthApp:
        return cast("AuthApp", self.app)

    @property
    def store(self) -> Store:
        return self.auth_app.store

    # --- layout ----------------------------------------------------------------------

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
        self.query_one("#empty", Static).update(Content("Reading the store…"))
        self.query_one("#status", Static).update(Content("reading…"))
        if self.snapshot is None:
            self.reload()
        else:
            self._warn_about(self.snapshot)
            self._rebuild()
        self.query_one(TokenTable).focus()
        if self.auth_app.poll_interval is not None:
            self.set_interval(self.auth_app.poll_interval, self.poll_store, name="poll store")

    def on_resize(self) -> None:
        if self.view is not None and self.table.set_columns(self._fit(), self._labels()):
            self._show_rows(keep=self.selected_id)
        else:
            self._update_status()

    def on_screen_resume(self) -> None:
        if self._failure is not None:
            self._show_failure()

    def _show_failure(self) -> None:
        """Give way to the screen that explains the problem; it comes back here (same
        sort, same token under the cursor) once the file can be read again."""
        assert self._failure is not None
        self.auth_app.last_selected = self.selected_id
        self.auth_app.show_store_error(self._failure)

    # --- what the table shows ------------------------------------------------------

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

    def _colours(self) -> RowColours:
        variables = self.app.get_css_variables()
        return RowColours(
            expiring=Style(color=variables.get("warning")),
            expired=Style(color=variables.get("error")),
        )

    def _rebuild(self) -> None:
        """Recompute the rows from the snapshot (new file version, theme or minute)."""
        if self.snapshot is None:
            return  # the first read builds them
        if self._building:
            self._build_again = True
            return
        self._building = True
        self._build_again = False
        self._build_view(self.snapshot, self.view, self.store.now(), self._colours(), self.sort)

    @work(thread=True, exclusive=True, group="build-view")
    def _build_view(
        self,
        snapshot: Snapshot[Hashable],
        previous: TableView | None,
        now: datetime,
        colours: RowColours,
        sort: Sort,
    ) -> None:
        with collector_paused(is_large(len(snapshot.records))):
            view = build_view(snapshot.records, now, colours, sort, previous)
            settle_heap(len(view.rows))
        self.post_message(ViewBuilt(snapshot, view))

    @on(ViewBuilt)
    def _view_built(self, message: ViewBuilt) -> None:
        self._building = False
        if message.snapshot is not self.snapshot or self._build_again:
            self._rebuild()  # the file, the theme or the minute changed meanwhile
            return
        self._apply_view(message.view)

    def _apply_view(self, view: TableView) -> None:
        first = self.view is None
        keep = None if first else self.selected_id
        if self._select_next is not None:
            keep, self._select_next = self._select_next, None
        self.view = view.resorted(self.sort)
        self._filtered = None
        self.table.forget_rows()
        self._show_rows(keep=keep)
        if not view.complete:
            # Shown with the relative times of the first rows measured; the rest
            # once this is on screen (see table_model.EAGER_LIMIT).
            self.table.call_after_paint(partial(self._complete_view, view))

    def _complete_view(self, view: TableView) -> None:
        if self.view is not None and self.view.by_id is view.by_id:
            self._complete(view)

    @work(thread=True, exclusive=True, group="complete-view")
    def _complete(self, view: TableView) -> None:
        with collector_paused(is_large(len(view.rows))):
            done = view.completed()
            settle_heap(len(done.rows))
        self.post_message(ViewCompleted(view, done))

    @on(ViewCompleted)
    def _view_completed(self, message: ViewCompleted) -> None:
        view = self.view
        if view is None or view.by_id is not message.view.by_id:
            return  # replaced meanwhile
        self.view = replace(view, natural=message.done.natural, complete=True)
        if self.table.set_columns(self._fit(), self._labels()):
            self.table.forget_rows()

    def _filter(self, rows: Sequence[TokenRow]) -> Sequence[TokenRow]:
        """The rows whose name or id contains the filter text (see `filter_view`)."""
        view = self.view
        counts = (view.expiring, view.expired) if view else None
        self._filtered = filter_view(rows, self.query_text, self._filtered, counts)
        return rows if self._filtered is None else self._filtered.rows

    def _show_rows(self, *, keep: str | None) -> None:
        """Put the filtered rows in the table, the cursor on `keep` if it is still there."""
        table = self.table
        previous_row = table.cursor_row
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
            empty.update(self._empty_message())
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

    def _empty_message(self) -> Content:
        if not self.view or not self.view.rows:
            return Content.from_markup(
                "No tokens in this store yet.\n\n[b]press $key to create a token[/b]",
                key=named(K.NEW),
            )
        return Content.from_markup(
            "No token's name or id contains “$query”.\n\n[b]press $key to clear the filter[/b]",
            query=escape_controls(self.query_text),
            key=named(K.CLEAR_FILTER),
        )

    def _update_status(self) -> None:
        """`5 tokens · 1 expiring · 1 expired`, or while filtering `2 of 5 tokens match
        “ag” · ...` with the counts of the matches; then the sort, as far as it fits."""
        view = self.view
        if view is None:
            self.query_one("#status", Static).update(Content("reading…"))
            return
        total = len(view.rows)
        noun = "token" if total == 1 else "tokens"
        if self.query_text.strip():
            status = Content.from_markup(
                "$shown of $total $noun match “$query”",
                shown=f"{len(self._shown):,}",
                total=f"{total:,}",
                noun=noun,
                query=escape_controls(self.query_text.strip()),
            )
            filtered = self._filtered
            expiring, expired = (filtered.expiring, filtered.expired) if filtered else (0, 0)
        else:
            status = Content(f"{total:,} {noun}")
            expiring, expired = view.expiring, view.expired
        parts = [status]
        if expiring:
            parts.append(Content.from_markup("[$warning]$n expiring[/]", n=f"{expiring:,}"))
        if expired:
            parts.append(Content.from_markup("[$error]$n expired[/]", n=f"{expired:,}"))
        summary = Content(" · ").join(parts)
        self.query_one("#status", Static).update(summary)
        # The header's ▲/▼ shows the sort too: in words only where there is room.
        room = self.app.size.width - 2 - summary.cell_length - 2
        description = self.sort.description
        sort_text = next(
            (text for text in (f"sort: {description}", description) if len(text) <= room), ""
        )
        self.query_one("#sort", Static).update(Content(sort_text))

    def _warn_about(self, snapshot: Snapshot[Hashable]) -> None:
        if snapshot.warnings and snapshot.warnings != self._warned:
            for warning in snapshot.warnings:
                self.auth_app.say(warning, title="Store file permissions", severity="warning")
        self._warned = snapshot.warnings

    # --- live refresh ----------------------------------------------------------------

    def poll_store(self) -> None:
        """Re-read the store if it changed: `Store.version()` (the file: one stat; a
        database: the change number its listener holds), no read otherwise."""
        current = self.store.version()
        if current != self._seen:
            # Seen, whether the read succeeds or not: a bad file is read once, not
            # every second, until it changes again.
            self._seen = current
            self.reload()
        elif self.view is not None and _minute(self.store.now()) != _minute(self.view.now):
            self._rebuild()  # relative times ("in 3 hours") and statuses move on

    def reload(self) -> None:
        """Read the store file again, and build its rows, in a thread."""
        if self._reloading:
            self._reload_again = True
            return
        self._reloading = True
        self._read_store(self.snapshot, self.view, self._colours(), self.sort)

    @work(thread=True, exclusive=True, group="read-store")
    def _read_store(
        self,
        current: Snapshot[Hashable] | None,
        previous: TableView | None,
        colours: RowColours,
        sort: Sort,
    ) -> None:
        # The first read's size is not known yet: it is paused, as a large one.
        with collector_paused(current is None or is_large(len(current.records))):
            try:
                snapshot = self.store.load()
            except StoreError as exc:
                self.post_message(SnapshotFailed(exc))
                return
            view = None
            if current is None or (snapshot is not current and snapshot.records != current.records):
                view = build_view(snapshot.records, self.store.now(), colours, sort, previous)
                settle_heap(len(view.rows))
        self.post_message(StoreRead(snapshot, view))

    @on(StoreRead)
    def _store_read(self, message: StoreRead) -> None:
        self._finish_reload()
        self._failure = None
        self._seen = message.snapshot.version
        self.snapshot = message.snapshot
        if message.view is not None:
            self._apply_view(message.view)
        self._warn_about(message.snapshot)

    @on(SnapshotFailed)
    def _load_failed(self, message: SnapshotFailed) -> None:
        self._finish_reload()
        first = self._failure is None
        self._failure = message.error
        if self.is_current:
            self._show_failure()
        elif first:
            self.auth_app.say(
                f"{one_line(message.error)}. Showing the last version that could be read.",
                title="The store file changed and cannot be read",
                severity="error",
            )

    def _finish_reload(self) -> None:
        self._reloading = False
        if self._reload_again:
            self._reload_again = False
            self.reload()

    def _after_write(self) -> None:
        """Re-read now rather than at the next poll."""
        self.reload()

    # --- actions ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.view is None and action in _NEEDS_THE_STORE:
            return None  # the store is still being read
        if action in _NEEDS_A_SELECTION:
            return True if self.selected is not None else None
        if action == K.CLEAR_FILTER.action:
            return bool(self.query_one("#filter-bar").display)
        return True

    def on_key(self, event: events.Key) -> None:
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        verb = _NO_TOKEN_TO.get(active.binding.action)
        if verb is not None:
            self.auth_app.say(self._why_no_token(), title=f"No token to {verb}", timeout=4)

    def _why_no_token(self) -> str:
        if self.view is None:
            return "The store is still being read: a moment."
        if not self.view.rows:
            return f"The store has no tokens yet: press {named(K.NEW)} to create one."
        query = escape_controls(self.query_text.strip())
        return f"No token matches the filter “{query}”: press {named(K.CLEAR_FILTER)} to clear it."

    def action_new_token(self) -> None:
        if self.snapshot is None:
            return
        self.app.push_screen(
            CreateTokenScreen(
                self.store,
                self.snapshot,
                home=self.auth_app.home,
                cursor_blink=self.auth_app.cursor_blink,
            ),
            callback=self._created,
        )

    def action_edit_token(self) -> None:
        record = self.selected
        if record is None or self.snapshot is None:
            return
        self.app.push_screen(
            EditTokenScreen(
                record,
                self.store,
                self.snapshot,
                home=self.auth_app.home,
                cursor_blink=self.auth_app.cursor_blink,
            ),
            callback=self._edited,
        )

    def _edited(self, edited: Edited | None) -> None:
        if edited is None:
            return
        record = edited.after
        label = f"'{display_name(record)}' ({record.id})"
        if not edited.changed:
            self.auth_app.say(f"Nothing changed: {label} already has those settings.", timeout=4)
            return
        fields = ", ".join(_FIELD_WORDS.get(name, name) for name in edited.changed)
        self._select_next = record.id
        self.auth_app.say(f"Saved {label}: {fields}. Its secret is unchanged.", title="Edited")
        self._after_write()

    def _created(self, issued: Issued | None) -> None:
        if issued is None:
            return
        self._select_next = issued.record.id
        self._after_write()
        self._show_secret(issued.secret, issued.record, "created")

    def _show_secret(self, secret: Secret, record: TokenRecord, verb: str) -> None:
        self.app.push_screen(SecretScreen(secret, record, verb=verb, now=self.store.now()))

    def action_delete_token(self) -> None:
        record = self.selected
        if record is None:
            return
        body = Content.assemble(
            "Delete the token '",
            (display_name(record), "bold"),
            f"' ({record.id})?\n\nEvery client using it is refused at once. This cannot be undone.",
        )
        self.app.push_screen(
            ConfirmScreen("Delete token", body, confirm="Delete", danger=True),
            callback=partial(self._confirmed, self._delete, record.id),
        )

    @staticmethod
    def _confirmed(run: Callable[[str], object], token_id: str, ok: bool | None) -> None:
        if ok:
            run(token_id)

    def _delete(self, token_id: str) -> None:
        run_store_action(self, "delete", partial(self.store.delete, [token_id]), TokensDeleted)

    @on(TokensDeleted)
    def _deleted(self, message: TokensDeleted) -> None:
        for record in message.records:
            self.auth_app.say(f"Deleted the token '{display_name(record)}' ({record.id}).")
        self._after_write()

    def action_rotate_token(self) -> None:
        record = self.selected
        if record is None:
            return
        self.app.push_screen(
            RotateScreen(record, self.store, cursor_blink=self.auth_app.cursor_blink),
            callback=partial(self._rotate_confirmed, record.id),
        )

    def _rotate_confirmed(self, token_id: str, expires: str | None) -> None:
        if expires is not None:
            run_store_action(
                self,
                "rotate",
                partial(self.store.rotate, token_id, expires=expires),
                partial(TokenIssued, verb="rotated"),
            )

    # --- prune -----------------------------------------------------------------------

    def action_prune(self) -> None:
        """Ask before deleting the expired tokens, naming them; focus on Cancel."""
        expired = (
            [row.record for row in self.view.rows if row.status is TokenStatus.EXPIRED]
            if self.view
            else []
        )
        if not expired:
            self.auth_app.say(
                "No token has expired: there is nothing to prune.",
                title="Nothing to prune",
                timeout=4,
            )
            return
        self.app.push_screen(
            ConfirmScreen(
                "Prune expired tokens",
                prune_question(expired, self.view.now if self.view else self.store.now()),
                confirm="Delete expired",
                danger=True,
            ),
            callback=partial(self._prune_confirmed, tuple(r.id for r in expired)),
        )

    def _prune_confirmed(self, token_ids: tuple[str, ...], ok: bool | None) -> None:
        if ok:
            # Only the tokens named in the question, and only if still expired
            # (a token rotated meanwhile by the CLI is kept).
            run_store_action(self, "prune", partial(self.store.prune, only=token_ids), TokensPruned)

    @on(TokensPruned)
    def _pruned(self, message: TokensPruned) -> None:
        count = len(message.records)
        if count == 0:
            self.auth_app.say("No token was deleted: none of them is expired any more.")
        else:
            names = ", ".join(f"'{display_name(r)}'" for r in message.records[:PRUNE_LISTED])
            more = f" and {count - PRUNE_LISTED} more" if count > PRUNE_LISTED else ""
            noun = "token" if count == 1 else "tokens"
            self.auth_app.say(f"Deleted {count} expired {noun}: {names}{more}.")
        self._after_write()

    # --- copy the id -----------------------------------------------------------------

    def action_copy_id(self) -> None:
        record = self.selected
        if record is not None:
            self._copy_id(record)

    @work(thread=True, group="clipboard", exit_on_error=False, description="copy id")
    def _copy_id(self, record: TokenRecord) -> None:
        app = self.auth_app
        route, reason = copy_text(record.id, app.clipboard_backend, app.send_osc52)
        self.post_message(IdCopied(record, route, reason))

    @on(IdCopied)
    def _id_copied(self, message: IdCopied) -> None:
        where = (
            "the clipboard"
            if message.route is CopyRoute.SYSTEM
            else "the terminal's clipboard (OSC 52)"
        )
        self.auth_app.say(
            f"Copied the id {message.record.id} of '{display_name(message.record)}' to {where}.",
            title="Id copied",
            timeout=4,
        )

    @on(TokenIssued)
    def _issued(self, message: TokenIssued) -> None:
        self._after_write()
        self._show_secret(message.issued.secret, message.issued.record, message.verb)

    @on(StoreActionFailed)
    def _action_failed(self, message: StoreActionFailed) -> None:
        self.auth_app.say(
            one_line(message.error), title=f"Could not {message.action}", severity="error"
        )
        self._after_write()

    def action_details(self) -> None:
        record = self.selected
        if record is None:
            return
        self.app.push_screen(
            DetailsScreen(record, self.store.now(), self.auth_app.home),
            callback=self._from_details,
        )

    def _from_details(self, choice: str | None) -> None:
        if choice == "edit":
            self.action_edit_token()
        elif choice == "delete":
            self.action_delete_token()
        elif choice == "rotate":
            self.action_rotate_token()

    @on(TokenTable.RowSelected, "#tokens")
    def _row_selected(self) -> None:
        self.action_details()

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
        if event.value == self.query_text:
            return
        keep = self.selected_id
        self.query_text = event.value
        self._show_rows(keep=keep)

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

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())


def _minute(moment: datetime) -> tuple[int, int, int, int, int]:
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute)
