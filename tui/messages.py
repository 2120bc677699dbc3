"""Results of blocking work, sent from thread workers back to the UI.

Store reads and writes and the system clipboard run in `@work(thread=True)`
workers; each posts one of these messages when it is done and the screen handles
it with `@on(...)` on the UI thread. Errors travel as the typed `core` errors
they are and are turned into words in one place (`tui.error_text`).
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.message import Message

from core.model.errors import AuthTuiError, StoreError
from core.model.records import SessionRecord, TokenRecord
from core.store import Edited, Issued, Migration, Snapshot
from tui.clipboard import CopyRoute
from tui.pairing import PairingLink
from tui.table_model.view import TableView


class SnapshotLoaded(Message):
    """The store file was read again after it changed on disk."""

    def __init__(self, snapshot: Snapshot[Hashable]) -> None:
        super().__init__()
        self.snapshot = snapshot


class SnapshotFailed(Message):
    """The store file changed on disk and can no longer be read."""

    def __init__(self, error: StoreError) -> None:
        super().__init__()
        self.error = error


class ViewBuilt(Message):
    """The table's rows for `snapshot` were computed (off the UI thread)."""

    def __init__(self, snapshot: Snapshot[Hashable], view: TableView) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.view = view


class StoreRead(Message):
    """The main screen's read of the store file: the snapshot, its rows when they
    changed (None when the records are those already shown), and why a change
    would fail (a read-only file, folder or database), if anything says so."""

    def __init__(
        self,
        snapshot: Snapshot[Hashable],
        view: TableView | None,
        write_problem: str | None = None,
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.view = view
        self.write_problem = write_problem


class ViewCompleted(Message):
    """Every row of a large `view` has its texts computed: `done` has exact widths."""

    def __init__(self, view: TableView, done: TableView) -> None:
        super().__init__()
        self.view = view
        self.done = done


class TokenIssued(Message):
    """A token was created or rotated; `issued.secret` is to be shown once."""

    def __init__(self, issued: Issued, verb: str) -> None:
        super().__init__()
        self.issued = issued
        self.verb = verb


class TokenEdited(Message):
    """A token's name, note, permissions, directories or expiry were changed (or
    nothing was: `edited.changed` is empty); its secret stays."""

    def __init__(self, edited: Edited) -> None:
        super().__init__()
        self.edited = edited


class TokensDeleted(Message):
    def __init__(self, records: tuple[TokenRecord, ...]) -> None:
        super().__init__()
        self.records = records


class StoreActionFailed(Message):
    """A create, delete, rotate or migrate was refused or failed; nothing changed."""

    def __init__(self, action: str, error: AuthTuiError) -> None:
        super().__init__()
        self.action = action
        self.error = error


class Migrated(Message):
    def __init__(self, migration: Migration) -> None:
        super().__init__()
        self.migration = migration


class Copied(Message):
    """The secret (or a pairing link) went onto a clipboard by `route`; `digest`
    recognises it later."""

    def __init__(self, route: CopyRoute, digest: bytes, system_error: str | None) -> None:
        super().__init__()
        self.route = route
        self.digest = digest
        self.system_error = system_error


class ClipboardCleared(Message):
    """The clipboard still held the secret (or the pairing link) when its time was
    up, and was emptied; `what` names it, as the notice says it ("The token")."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what


class TokensPruned(Message):
    """Expired tokens were deleted (only those the user confirmed)."""

    def __init__(self, records: tuple[TokenRecord, ...]) -> None:
        super().__init__()
        self.records = records


class IdCopied(Message):
    """A token's id (not a secret) went onto a clipboard by `route`."""

    def __init__(self, record: TokenRecord, route: CopyRoute, system_error: str | None) -> None:
        super().__init__()
        self.record = record
        self.route = route
        self.system_error = system_error


class DevicePaired(Message):
    """A device's token and its one-time link were made (`tui.pairing`)."""

    def __init__(self, paired: PairingLink) -> None:
        super().__init__()
        self.paired = paired


class LinkIssued(Message):
    """Another one-time link for a paired device's token (the first one expired)."""

    def __init__(self, paired: PairingLink) -> None:
        super().__init__()
        self.paired = paired


class SessionsEnded(Message):
    """A token's browser sessions (and unused pairing links) were ended."""

    def __init__(self, sessions: tuple[SessionRecord, ...]) -> None:
        super().__init__()
        self.sessions = sessions
