"""The new-token form: name, note, permissions, directories, expiry; checked as you type.

The rules are core's (`validate_name`, `validate_note`, `clean_directories`,
`parse_expiry`, and the store's duplicate-name rule), applied on every change so
mistakes show before Create, and "fix the fields marked ✗" goes as soon as
they are fixed. Permissions are picked by preset or box by box
(`PermissionsField`); a set that can pass no request (execute alone:
`passes_nothing`) is explained, not refused - the CLI creates it too, with a
warning. The store call itself runs in a thread worker; if the store refuses (a
name taken meanwhile by another process, a read-only folder, ...) the form
stays open and says why. On success the modal dismisses with the `Issued`
token. Esc or Cancel on a form that was filled in asks before dropping it.

`TokenForm` is the part shared with the edit form (`tui.screens.edit`) and the
pairing form (`tui.screens.pair_device`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from core.model.errors import DuplicateName, InputError, InvalidName
from core.model.expiry import DEFAULT_EXPIRY
from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.store import Issued, Snapshot, Store, generated_name
from tui.error_text import one_line
from tui.form_checks import name_problem, note_problem
from tui.messages import StoreActionFailed, TokenIssued
from tui.screens.confirm import ConfirmScreen
from tui.store_action import run_store_action
from tui.widgets.dialog_button import DialogButton
from tui.widgets.directories_field import DirectoriesField
from tui.widgets.expiry_field import ExpiryField
from tui.widgets.key_footer import KeyFooter
from tui.widgets.permissions_field import PermissionsField
from tui.widgets.text_field import TextField

NOTE_HELP = "Optional: what the token is for."
FIX_FIRST = "Fix the fields marked ✗ first."

# Rows the form needs around its scrolled fields: border, title, buttons, footer.
_CHROME = 2 + 2 + 4 + 1

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class CreateRequest:
    name: str | None  # None: the store picks `token-N`
    permissions: tuple[Permission, ...]
    expires: str
    note: str | None = None
    directories: tuple[str, ...] = ()


class TokenForm(ModalScreen[ResultT], Generic[ResultT]):
    """The fields of a token, checked as typed, and one submit at a time."""

    AUTO_FOCUS = "#name"
    TITLE_TEXT = ""
    SUBMIT_LABEL = ""
    BUSY_LABEL = ""
    SUBMIT_ID = "submit"

    DISCARD_TITLE = "Discard this form?"
    DISCARD_BODY = "What you filled in is lost; nothing was saved."

    def __init__(
        self,
        store: Store,
        snapshot: Snapshot[Hashable],
        *,
        home: Path | None = None,
        cwd: Path | None = None,
        cursor_blink: bool = True,
        record: TokenRecord | None = None,
    ) -> None:
        super().__init__()
        self._store = store
        self._snapshot = snapshot
        self._home = home
        self._cwd = cwd if cwd is not None else Path.cwd()
        self._cursor_blink = cursor_blink
        self._record = record
        self._busy_now = False
        self._initial_state: tuple[object, ...] | None = None

    # --- what differs between create and edit ------------------------------------

    def title_text(self) -> str:
        return self.TITLE_TEXT

    def initial_name(self) -> str:
        return ""

    def initial_note(self) -> str:
        return ""

    def initial_permissions(self) -> tuple[Permission, ...]:
        return tuple(Permission)

    def initial_directories(self) -> tuple[str, ...]:
        return ()

    def expiry_field(self) -> ExpiryField:
        return ExpiryField(
            initial=DEFAULT_EXPIRY, clock=self._store.now, cursor_blink=self._cursor_blink
        )

    def name_hint(self, value: str) -> str:
        return ""

    def extra_fields(self) -> ComposeResult:
        """Fields above the name (the pairing form's gateway address)."""
        yield from ()

    def extra_problems(self) -> list[tuple[Widget, str | None]]:
        """The extra fields' checks, run on submit: (where to focus, problem)."""
        return []

    def extra_state(self) -> tuple[object, ...]:
        """The extra fields' values, to tell a filled-in form."""
        return ()

    def submit(self) -> None:
        """All fields are valid: start the store call (a thread worker)."""
        raise NotImplementedError

    # --- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog token-form"):
            yield Static(Content(self.title_text()), classes="dialog-title")
            with VerticalScroll(id="form-body"):
                yield from self.extra_fields()
                with Horizontal(classes="field"):
                    yield Static("Name", classes="field-label")
                    yield self._input("name", "e.g. ci-deploy", self.initial_name())
                yield Static(id="name-feedback", classes="feedback")
                with Horizontal(classes="field"):
                    yield Static("Note", classes="field-label")
                    yield self._input("note", "what is it for? (optional)", self.initial_note())
                yield Static(id="note-feedback", classes="feedback")
                yield PermissionsField(initial=self.initial_permissions())
                yield DirectoriesField(
                    initial=self.initial_directories(),
                    home=self._home,
                    cwd=self._cwd,
                    cursor_blink=self._cursor_blink,
                )
                yield self.expiry_field()
            yield Static(id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Cancel", id="cancel")
                yield DialogButton(self.SUBMIT_LABEL, id=self.SUBMIT_ID, variant="primary")
        yield KeyFooter()

    def _input(self, id: str, placeholder: str, value: str) -> Input:
        widget = TextField(value, placeholder=placeholder, id=id, compact=True)
        widget.cursor_blink = self._cursor_blink
        return widget

    def on_mount(self) -> None:
        try:
            self.query_one("#form-error").display = False
        except NoMatches:
            return  # the app quit as the form opened (`q` then `n`): nothing to check
        self._check_name()
        self._check_note()
        # The fields' own values are set once they are mounted too.
        self.call_after_refresh(self._remember_initial_state)

    def _remember_initial_state(self) -> None:
        if self.is_attached:
            self._initial_state = self._state()

    def _state(self) -> tuple[object, ...]:
        """Everything the user can change here, to tell a filled-in form."""
        return (
            self.name_value,
            self.note_value,
            self._permissions(),
            self.query_one(DirectoriesField).state,
            self.query_one(ExpiryField).state,
            *self.extra_state(),
        )

    @property
    def filled_in(self) -> bool:
        """Whether leaving now would drop something the user did."""
        return self._initial_state is not None and self._state() != self._initial_state

    def on_resize(self) -> None:
        # Every field on one page where it fits; else they scroll, and the buttons stay.
        for body in self.query("#form-body"):
            body.styles.max_height = max(3, self.size.height - _CHROME)

    # --- checks, run as the user types -------------------------------------------

    def _feedback(
        self, id: str, problem: str | None, fine: Content | str = "", *, warning: bool = False
    ) -> None:
        widget = self.query_one(f"#{id}", Static)
        widget.set_class(problem is not None, "-problem")
        widget.set_class(problem is None and warning, "-warning")
        if problem is not None:
            widget.update(Content.assemble(("✗ ", "bold"), problem))
        else:
            widget.update(Content(fine) if isinstance(fine, str) else fine)

    def _check_name(self) -> str | None:
        field = self.query_one("#name", Input)
        problem = name_problem(field.value, self._snapshot, self._record)
        field.set_class(problem is not None, "-invalid")
        self._feedback("name-feedback", problem, self.name_hint(field.value))
        return problem

    def _check_note(self) -> str | None:
        field = self.query_one("#note", Input)
        problem = None if field.value == self.initial_note() else note_problem(field.value)
        field.set_class(problem is not None, "-invalid")
        self._feedback("note-feedback", problem, NOTE_HELP)
        return problem

    def _permissions(self) -> tuple[Permission, ...]:
        return self.query_one(PermissionsField).permissions

    def _check_permissions(self) -> str | None:
        return self.query_one(PermissionsField).check()

    @on(Input.Changed, "#name")
    def _name_changed(self) -> None:
        self._check_name()

    @on(Input.Changed, "#note")
    def _note_changed(self) -> None:
        self._check_note()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _any_change(self) -> None:
        # "Fix the fields marked ✗ first" stays only while a field is still marked.
        showing = self.query_one("#form-error").display and not self._busy_now
        if showing and all(problem is None for _, problem in self._problems()):
            self._show_form_error(None)

    # --- submit ------------------------------------------------------------------

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == self.SUBMIT_ID:
            self.action_submit()
        elif event.button.id == "cancel":
            self.action_cancel()

    def _problems(self) -> list[tuple[Widget, str | None]]:
        """Every field checked (their lines updated): where to focus, and the problem."""
        expiry = self.query_one(ExpiryField)
        directories = self.query_one(DirectoriesField)
        permissions = self.query_one(PermissionsField)
        return [
            *self.extra_problems(),
            (self.query_one("#name"), self._check_name()),
            (self.query_one("#note"), self._check_note()),
            (permissions.problem_widget, permissions.check()),
            (directories.problem_widget, directories.check()),
            (expiry.problem_widget, expiry.check()),
        ]

    def action_submit(self) -> None:
        if self._busy_now:
            return  # one store call per press: a second enter meanwhile is not another
        for widget, problem in self._problems():
            if problem is not None:
                widget.focus()
                self._show_form_error(FIX_FIRST)
                return
        self._show_form_error(None)
        self.submit()

    def _busy(self, busy: bool) -> None:
        self._busy_now = busy
        self.refresh_bindings()
        for button in self.query(Button):
            button.disabled = busy
        self.query_one(f"#{self.SUBMIT_ID}", Button).label = (
            self.BUSY_LABEL if busy else self.SUBMIT_LABEL
        )

    def _show_form_error(self, message: str | None) -> None:
        widget = self.query_one("#form-error", Static)
        widget.display = message is not None
        widget.update(Content.assemble(("✗ ", "bold"), message) if message else "")

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
        # While the store is being written, leaving would lose the outcome (for a
        # new token, its secret): the form is where it arrives.
        if action in ("cancel", "submit", "create", "save") and self._busy_now:
            return None
        return True

    def action_cancel(self) -> None:
        """Esc or Cancel: leave, asking first if the form was filled in."""
        if self._busy_now:
            return
        if not self.filled_in:
            self.dismiss(None)
            return
        self.app.push_screen(
            ConfirmScreen(
                self.DISCARD_TITLE,
                self.DISCARD_BODY,
                confirm="Discard",
                cancel="Keep editing",
                danger=True,
            ),
            callback=self._discard_confirmed,
        )

    def _discard_confirmed(self, discard: bool | None) -> None:
        if discard:
            self.dismiss(None)

    # --- values ------------------------------------------------------------------

    @property
    def name_value(self) -> str:
        return self.query_one("#name", Input).value

    @property
    def note_value(self) -> str:
        return self.query_one("#note", Input).value


class CreateTokenScreen(TokenForm[Issued | None]):
    """Dismisses with the issued token, or None when cancelled."""

    TITLE_TEXT = "New token"
    SUBMIT_LABEL = "Create"
    BUSY_LABEL = "Creating…"
    SUBMIT_ID = "create"
    NAME_STEM = "token"
    DISCARD_TITLE = "Discard the new token?"
    DISCARD_BODY = "What you filled in is lost; no token was created."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="create.cancel")
    ]

    def __init__(
        self,
        store: Store,
        snapshot: Snapshot[Hashable],
        *,
        home: Path | None = None,
        cwd: Path | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__(store, snapshot, home=home, cwd=cwd, cursor_blink=cursor_blink)
        self._default_name = generated_name({r.name for r in snapshot.records}, self.NAME_STEM)

    def name_hint(self, value: str) -> str:
        return f"Leave empty to name it {self._default_name}." if value == "" else ""

    def action_create(self) -> None:
        self.action_submit()

    def submit(self) -> None:
        value = self.name_value
        note = self.note_value
        request = CreateRequest(
            name=value if value != "" else None,
            permissions=self._permissions(),
            expires=self.query_one(ExpiryField).spec,
            note=note if note.strip() else None,
            directories=self.query_one(DirectoriesField).directories,
        )
        self._busy(True)
        run_store_action(
            self,
            "create",
            partial(
                self._store.create,
                name=request.name,
                permissions=request.permissions,
                expires=request.expires,
                note=request.note,
                directories=request.directories,
            ),
            partial(TokenIssued, verb="created"),
            group="create",
            exclusive=True,
        )

    @on(TokenIssued)
    def _created(self, message: TokenIssued) -> None:
        message.stop()
        self.dismiss(message.issued)
