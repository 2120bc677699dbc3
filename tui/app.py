"""The Textual app: which screen to show for the store, and the app-wide services.

`AuthApp` receives everything that depends on time or the environment in its
constructor - the `Store` (with its clock and secret source), the file-poll
interval, the clipboard backend and the clipboard-clear delay, the home folder
used to shorten the path in the header, the folder relative directories are
taken from, cursor blinking - so tests and snapshots can pin every one of them.

The CLI starts it with `run_tui(store)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.worker import Worker

from core.model.errors import LegacyStoreFound, StoreError
from core.model.text import escape_controls
from core.store import Snapshot, Store
from core.store.pg.url import is_database_url, mask_url
from tui.clipboard import (
    DEFAULT_CLEAR_AFTER,
    ClipboardBackend,
    CopyRoute,
    PyperclipBackend,
    holds,
)
from tui.keys import AppKeys
from tui.messages import ClipboardCleared
from tui.table_model.sorting import Sort

EXIT_OK = 0
EXIT_STORE_ERROR = 3  # the CLI's code for "store unreadable or corrupt"
QUIT_CLEAR_TIMEOUT = 3.0  # seconds quitting waits for the clipboard to be cleared
ROOMY_WIDTH = 84
"""Below this many columns a full-width dialog (76 wide) would leave a column or
two of the screen behind it showing at each side, stray letters and all: there
it takes the whole width instead (the `-narrow` class, see app.tcss)."""


def display_path(path: Path | str, home: Path | None) -> str:
    """The store path as shown to people: `~/...` under the home folder, escaped; a
    database's URL as core shows it (its password masked)."""
    if isinstance(path, str) and is_database_url(path):
        return mask_url(path)
    path = Path(path)
    if home is not None:
        for base in dict.fromkeys((home, Path(os.path.realpath(home)))):
            try:
                relative = path.relative_to(base)
            except ValueError:
                continue
            shown = "~" if relative == Path() else f"~/{relative.as_posix()}"
            return escape_controls(shown)
    return escape_controls(str(path))


class AuthApp(App[int]):
    """Manage the API tokens of `opencode serve` in one store file."""

    CSS_PATH = "app.tcss"
    TITLE = "opencode-auth-tui"
    BINDINGS: ClassVar[list[BindingType]] = list(AppKeys.BINDINGS)

    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float | None = 1.0,
        clipboard: ClipboardBackend | None = None,
        clipboard_clear_after: float | None = DEFAULT_CLEAR_AFTER,
        home: Path | None = None,
        cwd: Path | None = None,
        cursor_blink: bool = True,
    ) -> None:
        """
        Args:
            store: The token store (its clock and secret source are used as given).
            poll_interval: Seconds between checks of the store file for changes
                made by other processes; None turns live refresh off.
            clipboard: The system clipboard; pyperclip when None.
            clipboard_clear_after: Seconds after a copy at which the clipboard is
                emptied if it still holds the secret; None never clears it.
            home: Folder shown as `~` in the store path; the user's home when None.
            cwd: Folder a relative directory is taken from (as the CLI takes it
                from the current folder); the current folder when None.
            cursor_blink: Whether text inputs blink their cursor.
        """
        super().__init__()
        self.store = store
        self.poll_interval = poll_interval
        self.clipboard_backend: ClipboardBackend = clipboard or PyperclipBackend()
        self.clipboard_clear_after = clipboard_clear_after
        self.cursor_blink = cursor_blink
        self.home = home if home is not None else _home()
        self.cwd = cwd if cwd is not None else Path.cwd()
        # The gateway's address as a device reaches it: asked once, remembered
        # until the app quits (`P` pairs a device).
        self.gateway_url = ""
        self.store_path_text = display_path(store.location, self.home)
        # The main screen's order and cursor, kept while a store problem is shown.
        self.last_sort = Sort()
        self.last_selected: str | None = None
        self._pending_clear: tuple[bytes, CopyRoute, str] | None = None
        self._clear_timer: Timer | None = None

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this platform; on Linux and macOS the one whose
        bracketed pastes stay pastes (`tui.paste`)."""
        from textual.drivers.linux_driver import LinuxDriver

        from tui.paste import PasteSafeLinuxDriver

        driver = super().get_driver_class()
        return PasteSafeLinuxDriver if driver is LinuxDriver else driver

    # --- which screen --------------------------------------------------------------

    def on_mount(self) -> None:
        # The main screen reads the store in a thread; a problem replaces it.
        self.push_screen(self._main_screen(None))
        self._fit_dialogs()
        self.screen_change_signal.subscribe(self, self._screen_changed)

    def _screen_changed(self, screen: Screen[Any]) -> None:
        """A modal coming to the front clears the toasts: one left from before (an
        edit's "Saved …", 5 s long) would cover the modal's buttons."""
        if isinstance(screen, ModalScreen):
            self.clear_notifications()

    def on_resize(self, event: events.Resize) -> None:
        # the event's size: `self.size` can still be the one before
        self._fit_dialogs(event.size.width)

    def _fit_dialogs(self, width: int | None = None) -> None:
        self.set_class((self.size.width if width is None else width) < ROOMY_WIDTH, "-narrow")

    def screen_for_store(self) -> Screen[None]:
        """The main screen if the store can be read, else the screen that explains why."""
        try:
            snapshot = self.store.load()
        except StoreError as exc:
            return self.error_screen(exc)
        return self._main_screen(snapshot)

    def _main_screen(self, snapshot: Snapshot[Hashable] | None) -> Screen[None]:
        from tui.screens.main import MainScreen

        return MainScreen(snapshot, sort=self.last_sort, select=self.last_selected)

    def show_store(self, snapshot: Snapshot[Hashable] | None = None) -> None:
        """Replace the current screen with the main screen (after a fix or a migration)."""
        self.switch_screen(self._main_screen(snapshot))

    def show_store_error(self, error: StoreError) -> None:
        self.switch_screen(self.error_screen(error))

    def error_screen(self, error: StoreError) -> Screen[None]:
        from tui.screens.store_error import LegacyStoreScreen, StoreErrorScreen

        if isinstance(error, LegacyStoreFound):
            return LegacyStoreScreen(error)
        return StoreErrorScreen(error)

    # --- notifications ---------------------------------------------------------------

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None:
        """`notify` without markup: messages carry names and paths from the store file."""
        self.notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # --- clipboard clearing ------------------------------------------------------------

    def schedule_clipboard_clear(
        self, digest: bytes, route: CopyRoute, what: str = "The token"
    ) -> None:
        """Empty the clipboard later if it still holds the text with this digest
        (`what` it is, as the notice then says: "The token", "The pairing link")."""
        if self._clear_timer is not None:
            self._clear_timer.stop()
            self._clear_timer = None
        if self.clipboard_clear_after is None:
            self._pending_clear = None
            return
        self._pending_clear = (digest, route, what)
        self._clear_timer = self.set_timer(self.clipboard_clear_after, self.clear_clipboard_now)

    def clear_clipboard_now(self) -> Worker[None] | None:
        """Clear a pending copy now (its timer fired, or the app is quitting).

        Returns the thread worker that checks the system clipboard, if one was started.
        """
        if self._clear_timer is not None:
            self._clear_timer.stop()
            self._clear_timer = None
        pending, self._pending_clear = self._pending_clear, None
        if pending is None:
            return None
        digest, route, what = pending
        if route is CopyRoute.SYSTEM:
            return self._clear_system_clipboard(digest, what)
        if holds(self.clipboard, digest):
            # The terminal's clipboard cannot be read back; what the app last sent
            # it is the best knowledge there is.
            self.copy_to_clipboard("")
            self.post_message(ClipboardCleared(what))
        return None

    @work(thread=True, group="clipboard", exit_on_error=False, description="clear clipboard")
    def _clear_system_clipboard(self, digest: bytes, what: str) -> None:
        try:
            if holds(self.clipboard_backend.paste(), digest):
                self.clipboard_backend.copy("")
                self.post_message(ClipboardCleared(what))
        except Exception:  # noqa: S110 - no clipboard any more: nothing to clear
            pass

    @on(ClipboardCleared)
    def _cleared(self, message: ClipboardCleared) -> None:
        self.say(f"{message.what} was cleared from the clipboard.", timeout=4)

    def send_osc52(self, text: str) -> None:
        """From a thread worker: put `text` on the terminal's clipboard (OSC 52)."""
        self.call_from_thread(self.copy_to_clipboard, text)

    @property
    def clipboard_clear_pending(self) -> bool:
        return self._pending_clear is not None

    async def action_quit(self) -> None:
        """Quit (`ctrl+q`, `q`, the palette's Quit), asking first if a new secret on
        screen was never copied: quitting would lose it for good."""
        from tui.screens.secret import SecretScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, SecretScreen) and screen.unsaved:
                screen.ask_before_leaving(quitting=True)
                return
        await self.quit_now()

    async def quit_now(self) -> None:
        """Quit, first clearing a copied secret that is still waiting to be cleared."""
        worker = self.clear_clipboard_now()
        if worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), timeout=QUIT_CLEAR_TIMEOUT)
        self.exit(EXIT_OK)

    # --- command palette ---------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        from tui.screens.secret import SecretScreen

        for command in super().get_system_commands(screen):
            # A screenshot of the secret modal would write the secret to a file.
            if isinstance(screen, SecretScreen) and command.title.lower() == "screenshot":
                continue
            yield command


def _home() -> Path | None:
    try:
        return Path.home()
    except RuntimeError:
        return None


def run_tui(store: Store) -> int:
    """Run the TUI on the terminal until the user quits; return the exit code."""
    app = AuthApp(store)
    app.run()
    return app.return_code if app.return_code is not None else EXIT_OK
