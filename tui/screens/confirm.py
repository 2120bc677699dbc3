"""Yes/no questions and one-button notices, as modals.

A confirmation names what it acts on and starts with the focus on the safe
button, so a reflexive enter does nothing harmful.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something; dismisses True only for the confirm button."""

    AUTO_FOCUS = "#cancel"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("left", "app.focus_previous", "Previous", show=False, id="confirm.left"),
        Binding("right", "app.focus_next", "Next", show=False, id="confirm.right"),
    ]

    def __init__(
        self,
        title: str,
        body: Content | str,
        *,
        confirm: str,
        cancel: str = "Cancel",
        danger: bool = False,
    ) -> None:
        super().__init__(classes="confirm")
        self._title = title
        self._body = Content(body) if isinstance(body, str) else body
        self._confirm = confirm
        self._cancel = cancel
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -danger" if self._danger else "dialog"):
            yield Static(Content(self._title), classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton(Content(self._cancel), id="cancel")
                yield DialogButton(
                    Content(self._confirm),
                    id="confirm",
                    variant="error" if self._danger else "primary",
                )
        yield KeyFooter()

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class NoticeScreen(ModalScreen[None]):
    """Tell the user something that needs acknowledging (one button)."""

    AUTO_FOCUS = "#ok"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", id="notice.close")]

    def __init__(self, title: str, body: Content | str, *, button: str = "OK") -> None:
        super().__init__(classes="notice")
        self._title = title
        self._body = Content(body) if isinstance(body, str) else body
        self._button = button

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self._title), classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton(Content(self._button), id="ok", variant="primary")
        yield KeyFooter()

    @on(Button.Pressed, "#ok")
    def action_close(self) -> None:
        self.dismiss(None)
