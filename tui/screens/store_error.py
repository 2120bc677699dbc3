"""When the store file cannot be used: say what is wrong and how to fix it.

Nothing on these screens writes to the file, except the migration the user asks
for on the legacy-format screen (and core keeps a backup of the original first).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Header, Static

from core.model.errors import NotLegacyStore, StoreError
from core.model.text import escape_controls
from core.store import Migratable
from tui.app import EXIT_STORE_ERROR, display_path
from tui.commands import ProviderSet, StoreErrorCommands
from tui.error_text import one_line
from tui.keys import LegacyStoreKeys, StoreErrorKeys, named
from tui.messages import Migrated, SnapshotFailed, SnapshotLoaded, StoreActionFailed
from tui.screens.confirm import ConfirmScreen, NoticeScreen
from tui.store_action import run_store_action
from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tui.app import AuthApp

DEFAULT_FIX = "restore it from a backup, or move it aside to start an empty store"


def problem_sentence(problem: str) -> str:
    """Core words problems to follow the path ("…json: is a folder"); stand-alone
    they read better with a subject."""
    text = escape_controls(problem)
    if text.startswith(("is ", "has ")):
        return f"The file {text}."
    return text if text.endswith(".") else f"{text}."


class _StoreProblemScreen(Screen[None]):
    COMMANDS: ClassVar[ProviderSet] = {StoreErrorCommands}

    def __init__(self, error: StoreError) -> None:
        super().__init__()
        self.error = error
        self._seen: Hashable = None

    @property
    def auth_app(self) -> AuthApp:
        return cast("AuthApp", self.app)

    def on_mount(self) -> None:
        self.sub_title = self.auth_app.store_path_text
        self._seen = self.auth_app.store.version()
        if self.auth_app.poll_interval is not None:
            self.set_interval(self.auth_app.poll_interval, self.poll_store, name="poll store")

    # --- recovering by itself ------------------------------------------------------

    def poll_store(self) -> None:
        """Once the file changes (fixed, replaced, migrated by the CLI), read it again."""
        if not self.is_current:
            return  # a question is open on top; look again afterwards
        current = self.auth_app.store.version()
        if current != self._seen:
            self._seen = current
            self._read_again()

    @work(thread=True, exclusive=True, group="read-store")
    def _read_again(self) -> None:
        try:
            snapshot = self.auth_app.store.load()
        except StoreError as exc:
            self.post_message(SnapshotFailed(exc))
        else:
            self.post_message(SnapshotLoaded(snapshot))

    @on(SnapshotLoaded)
    def _fixed(self, message: SnapshotLoaded) -> None:
        if not self.is_current:
            self._seen = None  # try again at the next poll
            return
        self.auth_app.say("The store file can be read again.", title="Store file fixed")
        self.auth_app.show_store(message.snapshot)

    @on(SnapshotFailed)
    def _still_broken(self, message: SnapshotFailed) -> None:
        error = message.error
        if type(self.auth_app.error_screen(error)) is not type(self):
            self.auth_app.show_store_error(error)  # e.g. now a legacy file
        elif (error.problem, error.hint) != (self.error.problem, self.error.hint):
            self.error = error
            self.refresh(recompose=True)

    def _field(self, label: str, value: Content | str, id: str) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Static(label, classes="field-label")
            content = Content(value) if isinstance(value, str) else value
            yield Static(content, id=id, classes="field-value")

    def action_retry(self) -> None:
        screen = self.auth_app.screen_for_store()
        if isinstance(screen, _StoreProblemScreen) and type(screen) is type(self):
            self.auth_app.say(
                problem_sentence(screen.error.problem),
                title="Still cannot open the store",
                severity="error",
            )
            self.error = screen.error
            self.refresh(recompose=True)
            return
        self.app.switch_screen(screen)

    def action_quit(self) -> None:
        self.app.exit(EXIT_STORE_ERROR, return_code=EXIT_STORE_ERROR)

    @on(Button.Pressed, "#quit")
    def _quit_pressed(self) -> None:
        self.action_quit()

    @on(Button.Pressed, "#retry")
    def _retry_pressed(self) -> None:
        self.action_retry()


class StoreErrorScreen(_StoreProblemScreen):
    """A corrupt, truncated, unreadable or unsupported store file."""

    AUTO_FOCUS = "#quit"
    BINDINGS: ClassVar[list[BindingType]] = list(StoreErrorKeys.BINDINGS)

    def compose(self) -> ComposeResult:
        error = self.error
        yield Header()
        with Vertical(classes="panel error-panel"):
            yield Static(Content("Cannot open the token store"), classes="panel-title")
            where = "Database" if isinstance(error.path, str) else "File"
            yield from self._field(where, display_path(error.path, self.auth_app.home), "path")
            yield from self._field("Problem", problem_sentence(error.problem), "problem")
            fix = error.hint or DEFAULT_FIX
            yield from self._field("How to fix", problem_sentence(fix), "fix")
            written = "in the database" if isinstance(error.path, str) else "to the file"
            yield Static(
                Content(
                    f"Nothing was written {written}. Fix it, then press "
                    f"{named(StoreErrorKeys.RETRY)} to read it again."
                ),
                classes="muted",
            )
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Retry", id="retry")
                yield DialogButton("Quit", id="quit", variant="primary")
        yield KeyFooter()


class LegacyStoreScreen(_StoreProblemScreen):
    """A PR #8217 file (secrets in plain text): offer to migrate it."""

    AUTO_FOCUS = "#migrate"
    BINDINGS: ClassVar[list[BindingType]] = list(LegacyStoreKeys.BINDINGS)

    def compose(self) -> ComposeResult:
        error = self.error
        yield Header()
        with Vertical(classes="panel legacy-panel"):
            yield Static(Content("This token file is in the old format"), classes="panel-title")
            yield from self._field("File", display_path(error.path, self.auth_app.home), "path")
            yield from self._field("Found", problem_sentence(error.problem), "problem")
            yield Static(
                Content(
                    "opencode PR #8217 kept every token's secret in plain text. Migrating "
                    "replaces each secret with its SHA-256 digest, so the tokens keep "
                    "working but the file no longer gives them away. The original file is "
                    "kept next to it as a private (0600) backup."
                ),
                id="legacy-explanation",
            )
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Quit", id="quit")
                yield DialogButton("Migrate…", id="migrate", variant="primary")
        yield KeyFooter()

    @on(Button.Pressed, "#migrate")
    def action_migrate(self) -> None:
        self.app.push_screen(
            ConfirmScreen(
                "Migrate the token file",
                Content.assemble(
                    "Convert ",
                    (display_path(self.error.path, self.auth_app.home), "bold"),
                    " to the current format?\n\nThe existing tokens keep working; a "
                    "backup of the original is written first.",
                ),
                confirm="Migrate",
            ),
            callback=self._confirmed_migrate,
        )

    def _confirmed_migrate(self, ok: bool | None) -> None:
        # Only a store that can migrate (the file engine) reports a legacy file.
        store = self.auth_app.store
        if ok and isinstance(store, Migratable):
            run_store_action(
                self, "migrate", store.migrate, Migrated, group="migrate", exclusive=True
            )

    @on(Migrated)
    def _migrated(self, message: Migrated) -> None:
        migration = message.migration
        count = len(migration.records)
        self.app.push_screen(
            NoticeScreen(
                "Migration done",
                Content.assemble(
                    f"{count} token{'' if count == 1 else 's'} now stored as SHA-256 "
                    "digests; they keep working.\n\nThe original file, with its secrets "
                    "in plain text, was kept at:\n",
                    (display_path(migration.backup, self.auth_app.home), "bold"),
                    "\n\nDelete that backup once you no longer need it.",
                ),
                button="Continue",
            ),
            callback=lambda _: self.auth_app.show_store(),
        )

    @on(StoreActionFailed)
    def _migrate_failed(self, message: StoreActionFailed) -> None:
        if isinstance(message.error, NotLegacyStore):  # migrated meanwhile, e.g. by the CLI
            self.action_retry()
            return
        self.auth_app.say(one_line(message.error), title="Could not migrate", severity="error")
