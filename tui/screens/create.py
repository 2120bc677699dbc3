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
from textual.widgets import Button, Checkbox, Input, Select, Static

from core.display import escape_controls, format_timestamp, relative_time
from core.errors import AuthTuiError, DuplicateName, InputError, InvalidExpiry, InvalidName
from core.expiry import DEFAULT_EXPIRY, parse_expiry
from core.names import validate_name
from core.permissions import Permission
from core.store import Issued, Snapshot, TokenStore, generated_name
from tui.error_text import one_line
from tui.messages import StoreActionFailed, TokenIssued
from tui.widgets.key_footer import KeyFooter
from tui.widgets.text_field import TextField

CUSTOM = "custom"
EXPIRY_CHOICES: tuple[tuple[str, str], ...] = (
    ("7 days", "7d"),
    ("30 days", "30d"),
    ("90 days", "90d"),
    ("180 days", "180d"),
    ("1 year", "1y"),
    ("never", "never"),
    ("custom…", CUSTOM),
)
PERMISSION_HELP = "read: GET · write: POST, PUT… · execute: sessions, shell"


class PermissionBox(Checkbox):
    """A checkbox whose state shows without colour too (NO_COLOR, monochrome):
    Textual draws an X for both states and tells them apart by colour only."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "X" if self.value else " "


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
            with Horizontal(classes="field"):
                yield Static("Expires", classes="field-label")
                yield Select(
                    EXPIRY_CHOICES,
                    value=DEFAULT_EXPIRY,
                    allow_blank=False,
                    id="expiry",
                    compact=True,
                )
            with Horizontal(classes="field", id="custom-field"):
                yield Static("", classes="field-label")
                yield self._input("custom-expiry", "12h, 2w, 45d or a date: 2026-01-31")
            yield Static(id="expiry-feedback", classes="feedback")
            yield Static(id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create", id="create", variant="primary")
        yield KeyFooter()

    def _input(self, id: str, placeholder: str) -> Input:
        widget = TextField(placeholder=placeholder, id=id, compact=True)
        widget.cursor_blink = self._cursor_blink
        return widget

    def on_mount(self) -> None:
        self.query_one("#custom-field").display = False
        self.query_one("#form-error").display = False
        self._check_name()
        self._check_permissions()
        self._check_expiry()

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

    def _expiry_spec(self) -> str:
        choice = self.query_one("#expiry", Select).value
        if choice == CUSTOM:
            return self.query_one("#custom-expiry", Input).value
        return str(choice)

    def _check_expiry(self) -> str | None:
        now = self._store.now()
        custom = self.query_one("#expiry", Select).value == CUSTOM
        field = self.query_one("#custom-expiry", Input)
        if custom and not field.value.strip():
            field.remove_class("-invalid")
            self._feedback(
                "expiry-feedback", None, "Type a lifetime (12h, 30d, 2w, 1y) or a future date."
            )
            return "type an expiry"
        try:
            expires_at = parse_expiry(self._expiry_spec(), now)
        except InvalidExpiry as exc:
            field.set_class(custom, "-invalid")
            self._feedback("expiry-feedback", exc.message)
            return exc.message
        field.remove_class("-invalid")
        if expires_at is None:
            fine = Content("Never expires: it works until you delete it.")
        else:
            fine = Content.assemble(
                "Expires ",
                (format_timestamp(expires_at), "bold"),
                f" ({relative_time(expires_at, now)}).",
            )
        self._feedback("expiry-feedback", None, fine)
        return None

    @on(Input.Changed, "#name")
    def _name_changed(self) -> None:
        self._check_name()

    @on(Checkbox.Changed)
    def _permission_changed(self) -> None:
        self._check_permissions()

    @on(Select.Changed, "#expiry")
    def _expiry_choice_changed(self, event: Select.Changed) -> None:
        custom = event.value == CUSTOM
        self.query_one("#custom-field").display = custom
        self._check_expiry()
        if custom:
            self.query_one("#custom-expiry", Input).focus()

    @on(Input.Changed, "#custom-expiry")
    def _custom_changed(self) -> None:
        self._check_expiry()

    # --- submit ------------------------------------------------------------------

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        problems = {
            "#name": self._check_name(),
            "#perm-read": self._check_permissions(),
            "#custom-expiry" if self._expiry_spec_is_custom() else "#expiry": self._check_expiry(),
        }
        for selector, problem in problems.items():
            if problem is not None:
                self.query_one(selector).focus()
                self._show_form_error("Fix the fields marked ✗ first.")
                return
        value = self.query_one("#name", Input).value
        request = CreateRequest(
            name=value if value != "" else None,
            permissions=self._permissions(),
            expires=self._expiry_spec(),
        )
        self._show_form_error(None)
        self._busy(True)
        self._create(request)

    def _expiry_spec_is_custom(self) -> bool:
        return self.query_one("#expiry", Select).value == CUSTOM

    def _busy(self, busy: bool) -> None:
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

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)
