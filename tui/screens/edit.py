"""The edit form (`e`): a token's name, note, permissions, directories and expiry.

The create form's fields (`TokenForm`), filled in with the token's values; the
expiry starts on "keep the current expiry". Only what the user changed is sent
to `Store.edit`, so a hand-written name that today's rules would refuse
can stay as it is. The secret, id and creation time never change, and no
secret is shown: the modal dismisses with the `Edited` outcome.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType

from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.store import Edited, Snapshot, Store
from tui.messages import TokenEdited
from tui.screens.create import TokenForm
from tui.store_action import run_store_action
from tui.widgets.directories_field import DirectoriesField
from tui.widgets.expiry_field import KEEP_NEVER, ExpiryField


@dataclass(frozen=True, slots=True)
class EditRequest:
    """What changed; None leaves a field as it is (as `Store.edit` takes it)."""

    name: str | None = None
    note: str | None = None
    permissions: tuple[Permission, ...] | None = None
    directories: tuple[str, ...] | None = None
    expires: str | None = None

    @property
    def empty(self) -> bool:
        return all(
            value is None
            for value in (self.name, self.note, self.permissions, self.directories, self.expires)
        )


class EditTokenScreen(TokenForm[Edited | None]):
    """Dismisses with the `Edited` outcome, or None when cancelled."""

    TITLE_TEXT = "Edit token"
    SUBMIT_LABEL = "Save"
    BUSY_LABEL = "Saving…"
    SUBMIT_ID = "save"
    DISCARD_TITLE = "Discard your changes?"
    DISCARD_BODY = "The token stays as it was; what you changed here is lost."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="edit.cancel")
    ]

    def __init__(
        self,
        record: TokenRecord,
        store: Store,
        snapshot: Snapshot[Hashable],
        *,
        home: Path | None = None,
        cwd: Path | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__(
            store, snapshot, home=home, cwd=cwd, cursor_blink=cursor_blink, record=record
        )
        self.record = record

    def title_text(self) -> str:
        return f"Edit token {self.record.id}"

    def initial_name(self) -> str:
        return self.record.name

    def initial_note(self) -> str:
        return self.record.note or ""

    def initial_permissions(self) -> tuple[Permission, ...]:
        return self.record.permissions

    def initial_directories(self) -> tuple[str, ...]:
        return self.record.directories

    def expiry_field(self) -> ExpiryField:
        expires_at = self.record.expires_at
        return ExpiryField(
            initial="keep",
            clock=self._store.now,
            cursor_blink=self._cursor_blink,
            keep=expires_at if expires_at is not None else KEEP_NEVER,
        )

    def name_hint(self, value: str) -> str:
        return "" if value != self.record.name else "Its secret stays the same."

    def request(self) -> EditRequest:
        """The fields that differ from the token's."""
        record = self.record
        name = self.name_value
        note = self.note_value
        permissions = self._permissions()
        directories = self.query_one(DirectoriesField).directories
        expiry = self.query_one(ExpiryField)
        return EditRequest(
            name=name if name != record.name else None,
            note=note if note.strip() != (record.note or "") else None,
            permissions=permissions if permissions != record.permissions else None,
            directories=directories if directories != record.directories else None,
            expires=None if expiry.keeps else expiry.spec,
        )

    def action_save(self) -> None:
        self.action_submit()

    def submit(self) -> None:
        request = self.request()
        if request.empty:
            self.dismiss(Edited(self.record, self.record, ()))
            return
        self._busy(True)
        run_store_action(
            self,
            "edit",
            partial(
                self._store.edit,
                self.record.id,
                name=request.name,
                note=request.note,
                permissions=request.permissions,
                directories=request.directories,
                expires=request.expires,
            ),
            TokenEdited,
            group="edit",
            exclusive=True,
        )

    @on(TokenEdited)
    def _edited(self, message: TokenEdited) -> None:
        message.stop()
        self.dismiss(message.edited)
