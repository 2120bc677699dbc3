"""Rotate: confirm, naming the token, and choose the new secret's expiry.

The expiry starts at the token's current lifetime counted from now (what
`token rotate` does without `--expires`), with the same choices as the create
form. The focus starts on Cancel, as in every confirmation.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from core.model.expiry import lifetime_of
from core.model.records import TokenRecord
from core.store import Store
from tui.table_model.texts import display_name
from tui.widgets.dialog_button import DialogButton
from tui.widgets.expiry_field import ExpiryField
from tui.widgets.key_footer import KeyFooter


class RotateScreen(ModalScreen[str | None]):
    """Dismisses with the new expiry (a spec for `Store.rotate`), or None."""

    AUTO_FOCUS = "#cancel"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="rotate.cancel"),
        Binding("left", "app.focus_previous", "Previous", show=False, id="rotate.left"),
        Binding("right", "app.focus_next", "Next", show=False, id="rotate.right"),
    ]

    def __init__(self, record: TokenRecord, store: Store, *, cursor_blink: bool = True) -> None:
        super().__init__(classes="confirm")
        self._record = record
        self._store = store
        self._cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        record = self._record
        with Vertical(classes="dialog -danger"):
            yield Static(Content("Rotate token"), classes="dialog-title")
            yield Static(
                Content.assemble(
                    "Rotate the token '",
                    (display_name(record), "bold"),
                    f"' ({record.id})?\n\nIt gets a new secret, shown once; the current secret "
                    "stops working at once. Name, id and permissions stay the same.",
                ),
                classes="dialog-body",
            )
            yield ExpiryField(
                initial=lifetime_of(record.created_at, record.expires_at),
                clock=self._store.now,
                label="New expiry",
                cursor_blink=self._cursor_blink,
            )
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton(Content("Cancel"), id="cancel")
                yield DialogButton(Content("Rotate"), id="confirm", variant="error")
        yield KeyFooter()

    @on(Button.Pressed, "#confirm")
    @on(Input.Submitted, "#custom-expiry")
    def _confirmed(self) -> None:
        expiry = self.query_one(ExpiryField)
        if expiry.check() is not None:
            expiry.problem_widget.focus()
            return
        self.dismiss(expiry.spec)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
