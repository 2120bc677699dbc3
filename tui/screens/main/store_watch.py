"""The main screen kept in step with the store: read, built and re-read off the UI thread.

The table follows the store whoever changes it - this screen, or the CLI in
another terminal - so the screen polls `Store.version()` and re-reads on a
change, and rebuilds the rows when the theme or the minute changes (relative
times move on). Reading a large store and building its rows take long enough to
freeze a screen, so both run in thread workers that report back with a message
from `tui.messages`; a read that fails gives way to the screen that explains it.

Each read also asks the store whether a change would fail (`ChecksWritable`: a
read-only file, folder or database role), so the header says "read-only" before
anyone fills in a form; and a modal in front that shows the store's state (the
details' sessions, the pairing modal's link) is handed each new snapshot.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Protocol, runtime_checkable

from rich.style import Style
from textual import on, work

from core.model.errors import StoreError
from core.store import ChecksWritable, Snapshot, Store
from tui.error_text import one_line
from tui.heap import collector_paused, is_large, settle_heap
from tui.messages import SnapshotFailed, StoreRead, ViewBuilt, ViewCompleted
from tui.screens.main.shown_rows import ShownRows
from tui.table_model.rows import RowColours
from tui.table_model.sorting import Sort
from tui.table_model.view import TableView, build_view

READ_ONLY_MARK = "read-only"


@runtime_checkable
class FollowsStore(Protocol):
    """A screen that shows part of the store's state: told of every new snapshot."""

    def store_changed(self, snapshot: Snapshot[Hashable]) -> None: ...


def write_problem_of(store: Store, snapshot: Snapshot[Hashable]) -> str | None:
    """Why a change to the store would fail, from the store (without writing), or
    from the snapshot (the file's owner has no write permission)."""
    if isinstance(store, ChecksWritable):
        problem = store.write_problem()
        if problem is not None:
            return problem
    if snapshot.read_only:
        return f"{snapshot.location} has no write permission for its owner"
    return None


class StoreWatch(ShownRows):
    """The rows of the store as last read, rebuilt when it, the theme or the minute changes."""

    def __init__(
        self,
        snapshot: Snapshot[Hashable] | None = None,
        *,
        sort: Sort | None = None,
        select: str | None = None,
    ) -> None:
        """`snapshot`: the store as just read; None to read it (in a thread) first."""
        super().__init__(sort)
        self.snapshot = snapshot
        self._building = False  # a thread is building a new view
        self._build_again = False  # ... and another was asked for meanwhile
        self._seen: Hashable | None = snapshot.version if snapshot else None
        self._reloading = False
        self._reload_again = False
        self._failure: StoreError | None = None
        self._warned: tuple[str, ...] = ()
        self.write_problem: str | None = None
        """Why a change would fail (the header says read-only), or None."""
        # a token just created (or selected before a store problem): the cursor goes there
        self._select_next: str | None = select

    def on_screen_resume(self) -> None:
        if self._failure is not None:
            self._show_failure()

    def _show_failure(self) -> None:
        """Give way to the screen that explains the problem; it comes back here (same
        sort, same token under the cursor) once the file can be read again."""
        assert self._failure is not None
        self.auth_app.last_selected = self.selected_id
        self.auth_app.show_store_error(self._failure)

    # --- building the rows -------------------------------------------------------------

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
            view = build_view(
                snapshot.records, now, colours, sort, previous, home=self.auth_app.home
            )
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
            # once this is on screen (see table_model.view.EAGER_LIMIT).
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

    def _warn_about(self, snapshot: Snapshot[Hashable]) -> None:
        if snapshot.warnings and snapshot.warnings != self._warned:
            for warning in snapshot.warnings:
                self.auth_app.say(warning, title="Store file permissions", severity="warning")
        self._warned = snapshot.warnings

    # --- live refresh ------------------------------------------------------------------

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
                view = build_view(
                    snapshot.records,
                    self.store.now(),
                    colours,
                    sort,
                    previous,
                    home=self.auth_app.home,
                )
                settle_heap(len(view.rows))
            problem = write_problem_of(self.store, snapshot)
        self.post_message(StoreRead(snapshot, view, problem))

    @on(StoreRead)
    def _store_read(self, message: StoreRead) -> None:
        self._finish_reload()
        self._failure = None
        self._seen = message.snapshot.version
        self.snapshot = message.snapshot
        if message.view is not None:
            self._apply_view(message.view)
        self._warn_about(message.snapshot)
        self._mark_read_only(message.write_problem)
        for screen in self.app.screen_stack:
            if isinstance(screen, FollowsStore):
                screen.store_changed(message.snapshot)

    def refuses_changes(self) -> bool:
        """Whether the store is read-only - then say so: no form is opened to fail."""
        if self.write_problem is None:
            return False
        self.auth_app.say(
            f"{self._shown_problem(self.write_problem)}: no change can be saved.",
            title="The store is read-only",
            severity="warning",
            timeout=6,
        )
        return True

    def _mark_read_only(self, problem: str | None) -> None:
        """Say once that changes would fail, and keep "read-only" in the header."""
        first = self.write_problem is None
        self.write_problem = problem
        path = self.auth_app.store_path_text
        # the mark first: a long path is cut at the header's end, the mark never is
        self.sub_title = f"{READ_ONLY_MARK} · {path}" if problem is not None else path
        self.refresh_bindings()
        if first and problem is not None:
            self.auth_app.say(
                f"{self._shown_problem(problem)}. The tokens are shown; changes would be refused.",
                title="The store is read-only",
                severity="warning",
            )

    def _shown_problem(self, problem: str) -> str:
        """The problem as said to the user: the store's path as the header shows it."""
        return problem.replace(str(self.store.location), self.auth_app.store_path_text)

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

    def _after_write(self, *, select: str | None = None) -> None:
        """Re-read now rather than at the next poll; the cursor then goes to `select`."""
        if select is not None:
            self._select_next = select
        self.reload()


def _minute(moment: datetime) -> tuple[int, int, int, int, int]:
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute)
