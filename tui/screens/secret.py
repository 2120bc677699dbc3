"""The one time a secret is shown: the token, Copy and Done.

The screen holds the `core.model.token_format.Secret` while it is open and reveals it
only into the token widget and into the copy worker. When it closes it drops the
Secret and blanks the widget, so nothing in the app keeps a reference to it (a
Pilot test proves this with a weak reference). After a copy, the app empties the
clipboard `clipboard_clear_after` seconds later if it still holds the secret.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.model.records import TokenRecord
from core.model.token_format import Secret
from tui.clipboard import NO_CLIPBOARD, CopyRoute, copy_text, fingerprint
from tui.messages import Copied
from tui.screens.confirm import ConfirmScreen
from tui.table_model.texts import display_name, token_summary
from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tui.app import AuthApp


class SecretScreen(ModalScreen[None]):
    """Show a new secret once. Closing before copying asks first."""

    AUTO_FOCUS = "#copy"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "done", "Done", id="secret.done"),
        Binding("c", "copy", "Copy", id="secret.copy"),
        Binding("left", "app.focus_previous", "Previous", show=False, id="secret.left"),
        Binding("right", "app.focus_next", "Next", show=False, id="secret.right"),
    ]

    def __init__(
        self,
        secret: Secret,
        record: TokenRecord,
        *,
        verb: str,
        now: datetime,
        home: Path | None = None,
    ) -> None:
        super().__init__()
        self._home = home
        self._secret: Secret | None = secret
        self._record = record
        self._verb = verb
        self._now = now
        self.copied: CopyRoute | None = None
        self._asking: ConfirmScreen | None = None

    @property
    def auth_app(self) -> AuthApp:
        return cast("AuthApp", self.app)

    def compose(self) -> ComposeResult:
        record = self._record
        assert self._secret is not None
        with Vertical(classes="dialog secret"):
            yield Static(
                Content.assemble(f"Token {self._verb}: ", (display_name(record), "bold")),
                classes="dialog-title",
            )
            yield Static(Content(self._secret.reveal()), id="token")
            yield Static(
                Content.from_markup(
                    "[b]This is the only time this token is shown.[/b] Copy it now and "
                    "keep it somewhere safe; the store keeps only its digest. If it is "
                    "lost, rotate the token to get a new one."
                ),
                id="once-warning",
            )
            # How the copy went, in place of the warning: not in a toast, which
            # would cover the buttons, and no taller, so it fits at 60 by 20.
            yield Static(id="copy-outcome")
            yield Static(
                Content(token_summary(record, self._now, self._home)),
                classes="muted",
                id="token-summary",
            )
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Copy", id="copy", variant="primary")
                yield DialogButton("Done", id="done")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#copy-outcome").display = False

    # --- copy --------------------------------------------------------------------

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        if self._secret is None:
            return
        self.query_one("#copy", Button).disabled = True
        self._copy()

    # No arguments: a finished thread worker can outlive the screen (Textual's idle
    # executor thread keeps it in its context), and it keeps its arguments with it.
    @work(thread=True, exclusive=True, group="copy", exit_on_error=False, description="copy")
    def _copy(self) -> None:
        secret = self._secret
        if secret is None:
            return
        text = secret.reveal()
        route, reason = copy_text(text, self.auth_app.clipboard_backend, self.auth_app.send_osc52)
        self.post_message(Copied(route, fingerprint(text), reason))

    @on(Copied)
    def _copied(self, message: Copied) -> None:
        self.copied = message.route
        self.auth_app.schedule_clipboard_clear(message.digest, message.route)
        clear_after = self.auth_app.clipboard_clear_after
        later = f" It will be cleared in {clear_after:g} s." if clear_after is not None else ""
        button = self.query_one("#copy", Button)
        button.disabled = False
        outcome = self.query_one("#copy-outcome", Static)
        if message.route is CopyRoute.SYSTEM:
            button.label = "Copied ✓"
            outcome.set_class(False, "-warning")
            outcome.update(
                Content(
                    f"✓ Copied to the clipboard.{later} This is the only time this token "
                    "is shown: keep it somewhere safe."
                )
            )
        else:
            button.label = "Sent ✓"
            why = "there is no system clipboard here"
            if message.system_error and message.system_error != NO_CLIPBOARD:
                why = f"the system clipboard failed ({message.system_error})"
            outcome.set_class(True, "-warning")
            outcome.update(
                Content(
                    f"✓ Sent to the terminal's clipboard (OSC 52): {why}. If pasting gives "
                    f"nothing, select the token with the mouse.{later}"
                )
            )
        outcome.display = True
        self.query_one("#once-warning").display = False
        self.query_one("#done", Button).focus()

    # --- close -------------------------------------------------------------------

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        if self.copied is not None:
            self.dismiss(None)
            return
        self.ask_before_leaving(quitting=False)

    @property
    def unsaved(self) -> bool:
        """Whether leaving now would lose the secret: it was never copied."""
        return self.copied is None and self._secret is not None

    @property
    def asking(self) -> bool:
        """Whether the "without copying?" question is on screen right now."""
        return self._asking is not None and self._asking.is_attached

    def ask_before_leaving(self, *, quitting: bool) -> None:
        """Ask before the secret is lost; close the modal (or quit the app) if confirmed.

        Esc, Done, `ctrl+q` and the command palette's Quit all come here first.
        """
        if self.asking:
            self.app.bell()  # the question is already on screen
            return
        self._asking = ConfirmScreen(
            "Quit without copying?" if quitting else "Close without copying?",
            "You have not copied this token, and it will never be shown again. "
            "Clients can only use it if you saved it some other way.",
            confirm="Quit anyway" if quitting else "Close anyway",
            cancel="Go back",
            danger=True,
        )
        self.app.push_screen(
            self._asking, callback=self._quit_confirmed if quitting else self._close_confirmed
        )

    def _close_confirmed(self, close: bool | None) -> None:
        self._asking = None
        if close:
            self.dismiss(None)

    def _quit_confirmed(self, leave: bool | None) -> None:
        self._asking = None
        if leave:
            self.app.call_later(self.auth_app.quit_now)

    def on_unmount(self) -> None:
        self._forget()

    def _forget(self) -> None:
        """Drop the secret: the object, and the text in the widget."""
        self._secret = None
        for token in self.query("#token").results(Static):
            token.update("")
