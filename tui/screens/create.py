"""The new-token form: name, permissions, expiry; checked as you type.

The rules are core's (`validate_name`, `parse_expiry`, and the store's
duplicate-name rule), applied on every change so mistakes show before Create.
The store call itself runs in a thread worker; if the store refuses (a name
taken meanwhile by another process, a read-only folder, ...) the form stays open
and says why. On success the modal dismisses with the `Issued` token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Static

from core.display import escape_controls
from core.errors import AuthTuiError, DuplicateName, InputError, InvalidName
from core.expiry import DEFAULT_EXPIRY
from core.names import validate_name
from core.permissions import Permission
from core.store import Issued, Snapshot, TokenStore, generated_name
from tui.error_text import one_line
from tui.messages import StoreActionFailed, TokenIssued
from tui.widgets.dialog_button import DialogButton
from tui.widgets.expiry_field import ExpiryField
from tui.widgets.key_footer import KeyFooter
from tui.widgets.text_field import TextField

PERMISSION_HELP = "read: GET · write: POST, PUT… · execute: sessions, shell"


class PermissionBox(Checkbox):
    """A checkbox drawn `[x] read` / `[ ] read`: both states legible, without colour
    too (NO_COLOR, monochrome). Textual draws an X for both states on a dark
    block, told apart by colour only, and an unticked box nearly vanishes."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble(("[", style), ("x" if self.value else " ", style), ("]", style))


@dataclass(frozen=True, slots=True)
class CreateRequest:
    name: str | None  # None: the store picks `token-N`
    permissions: tuple[Permission, ...]
    expires: str


def name_problem(raw: str, snapshot: Snapshot) -> str | None:
    """Why `raw` cannot be a new token's name, or None; the empty name is allowed."""
    if raw == "":
        return None
    try:
        name = validate_name(raw)
    except InvalidName as exc:
        return exc.message
    folded = name.casefold()
    for record in snapshot.records:
        if record.name.casefold() == folded:
            return f"a token named {escape_controls(record.name)!r} already exists (id {record.id})"
        if record.id == name:
            return f"{name!r} is another token's id; choose a different name"
    return None


class CreateTokenScreen(ModalScreen[Issued | None]):
    """Dismisses with the issued token, or None when cancelled."""

    AUTO_FOCUS = "#name"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="create.cancel")
    ]

    def __init__(self, store: TokenStore, snapshot: Snapshot, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self._store = store
        self._snapshot = snapshot
        self._cursor_blink = cursor_blink
        self._default_name = generated_name({r.name for r in snapshot.records})
        self._creating = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog create"):
            yield Static(Content("New token"), classes="dialog-title")
            with Horizontal(classes="field"):
                yield Static("Name", classes="field-label")
                yield self._input("name", "e.g. ci-deploy")
            yield Static(id="name-feedback", classes="feedback")
            with Horizontal(classes="field"):
                yield Static("Permissions", classes="field-label")
                with Horizontal(id="permissions"):
                    for permission in Permission:
                        yield PermissionBox(
                            permission.value, True, id=f"perm-{permission.value}", compact=True
                        )
            yield Static(id="permissions-feedback", classes="feedback")
            yield ExpiryField(
                initial=DEFAULT_EXPIRY, clock=self._store.now, cursor_blink=self._cursor_blink
            )
            yield Static(id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Cancel", id="cancel")
                yield DialogButton("Create", id="create", variant="primary")
        yield KeyFooter()

    def _input(self, id: str, placeholder: str) -> Input:
        widget = TextField(placeholder=placeholder, id=id, compact=True)
        widget.cursor_blink = self._cursor_blink
        return widget

    def on_mount(self) -> None:
        self.query_one("#form-error").display = False
        self._check_name()
        self._check_permissions()

    # --- checks, run as the user types -------------------------------------------

    def _feedback(self, id: str, problem: str | None, fine: Content | str = "") -> None:
        widget = self.query_one(f"#{id}", Static)
        widget.set_class(problem is not None, "-problem")
        if problem is not None:
            widget.update(Content.assemble(("✗ ", "bold"), problem))
        else:
            widget.update(Content(fine) if isinstance(fine, str) else fine)

    def _check_name(self) -> str | None:
        field = self.query_one("#name", Input)
        problem = name_problem(field.value, self._snapshot)
        field.set_class(problem is not None, "-invalid")
        fine = f"Leave empty to name it {self._default_name}." if field.value == "" else ""
        self._feedback("name-feedback", problem, fine)
        return problem

    def _permissions(self) -> tuple[Permission, ...]:
        return tuple(p for p in Permission if self.query_one(f"#perm-{p.value}", Checkbox).value)

    def _check_permissions(self) -> str | None:
        problem = None if self._permissions() else "choose at least one permission"
        self._feedback("permissions-feedback", problem, PERMISSION_HELP)
        return problem

    @on(Input.Changed, "#name")
    def _name_changed(self) -> None:
        self._check_name()

    @on(Checkbox.Changed)
    def _permission_changed(self) -> None:
        self._check_permissions()

    # --- submit ------------------------------------------------------------------

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        if self._creating:
            return  # one token per Create: a second enter meanwhile is not another
        expiry = self.query_one(ExpiryField)
        problems: list[tuple[Widget, str | None]] = [
            (self.query_one("#name"), self._check_name()),
            (self.query_one("#perm-read"), self._check_permissions()),
            (expiry.problem_widget, expiry.check()),
        ]
        for widget, problem in problems:
            if problem is not None:
                widget.focus()
                self._show_form_error("Fix the fields marked ✗ first.")
                return
        value = self.query_one("#name", Input).value
        request = CreateRequest(
            name=value if value != "" else None,
            permissions=self._permissions(),
            expires=expiry.spec,
        )
        self._show_form_error(None)
        self._busy(True)
        self._create(request)

    def _busy(self, busy: bool) -> None:
        self._creating = busy
        self.refresh_bindings()
        for button in self.query(Button):
            button.disabled = busy
        self.query_one("#create", Button).label = "Creating…" if busy else "Create"

    def _show_form_error(self, message: str | None) -> None:
        widget = self.query_one("#form-error", Static)
        widget.display = message is not None
        widget.update(Content.assemble(("✗ ", "bold"), message) if message else "")

    @work(thread=True, exclusive=True, group="create")
    def _create(self, request: CreateRequest) -> None:
        try:
            issued = self._store.create(
                name=request.name, permissions=request.permissions, expires=request.expires
            )
        except AuthTuiError as exc:
            self.post_message(StoreActionFailed("create", exc))
        else:
            self.post_message(TokenIssued(issued, "created"))

    @on(TokenIssued)
    def _created(self, message: TokenIssued) -> None:
        message.stop()
        self.dismiss(message.issued)

    @on(StoreActionFailed)
    def _failed(self, message: StoreActionFailed) -> None:
        message.stop()
        self._busy(False)
        error = message.error
        if isinstance(error, DuplicateName | InvalidName):
            # The name was taken by another process since the form opened.
            self._feedback("name-feedback", error.message)
            self.query_one("#name", Input).add_class("-invalid")
            self.query_one("#name", Input).focus()
        self._show_form_error(error.message if isinstance(error, InputError) else one_line(error))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the store is being written, leaving would lose the new secret:
        # the token is created all the same, and the form is where it arrives.
        if action in ("cancel", "create") and self._creating:
            return None
        return True

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self._creating:
            self.dismiss(None)
