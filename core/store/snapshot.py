"""What the store's operations return, the same on every engine: the records as
read at one moment (`Snapshot`) and what a change did."""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, Literal, TypeVar

from core.model.errors import SessionNotFound, TokenNotFound
from core.model.records import PairingRecord, SessionRecord, TokenRecord
from core.model.token_format import Secret

V = TypeVar("V", bound=Hashable, covariant=True)


@dataclass(frozen=True)
class Snapshot(Generic[V]):
    """The store as read at one moment, the same on every engine. `exists` is
    False for a missing file."""

    location: str
    """Where it was read: the file's path, or the database's URL with its
    password masked (`Store.location`)."""
    records: tuple[TokenRecord, ...]
    exists: bool
    version: V
    """The version read; it equals the store's `version()` while nothing changes
    (None: no file yet)."""
    warnings: tuple[str, ...] = ()
    read_only: bool = False
    """The owner has no write permission (chmod 400): changes are refused."""
    sessions: tuple[SessionRecord, ...] = ()
    """Browser sessions (each of a token in `records`), expired ones included until
    the next change drops them."""
    pairings: tuple[PairingRecord, ...] = ()
    """Pairing links not used yet (expired ones included until the next change)."""
    delta: tuple[Sequence[TokenRecord], Sequence[TokenRecord]] | None = field(
        default=None, repr=False, compare=False
    )
    """(records gone, records added) since the version `based_on`, when known: an
    authorizer updates its index by that much instead of rebuilding it."""
    based_on: Hashable | None = field(default=None, repr=False, compare=False)
    read_at_ns: int = field(default=0, repr=False, compare=False)
    """When the read started (time.time_ns)."""

    @functools.cached_property
    def _by_id(self) -> dict[str, TokenRecord]:
        return {r.id: r for r in self.records}

    def by_id(self, token_id: str) -> TokenRecord | None:
        return self._by_id.get(token_id)

    def find(self, ref: str) -> TokenRecord | None:
        """By id, then exact name, then case-insensitive name."""
        ref = ref.strip()
        found = self._by_id.get(ref)
        if found is not None:
            return found
        folded = ref.casefold()
        loose = None
        for record in self.records:
            if record.name == ref:
                return record
            if record.name.casefold() == folded:
                loose = record
        return loose

    def require(self, ref: str) -> TokenRecord:
        found = self.find(ref)
        if found is None:
            raise TokenNotFound(ref)
        return found

    def sessions_of(self, token_id: str) -> tuple[SessionRecord, ...]:
        return tuple(s for s in self.sessions if s.token_id == token_id)

    def require_session(self, session_id: str) -> SessionRecord:
        wanted = session_id.strip()
        for session in self.sessions:
            if session.id == wanted:
                return session
        raise SessionNotFound(session_id)


@dataclass(frozen=True)
class Issued:
    """A token just created or rotated: its record and its secret (shown once)."""

    record: TokenRecord
    secret: Secret


@dataclass(frozen=True)
class IssuedSession:
    """A browser session just begun: its record and its id (the cookie's value,
    given to the browser once; only its digest is stored)."""

    record: SessionRecord
    secret: Secret

    def max_age(self, now: datetime) -> int:
        """Whole seconds from `now` to the session's end (the cookie's Max-Age)."""
        return max(0, int((self.record.expires_at - now).total_seconds()))


@dataclass(frozen=True)
class IssuedPairing:
    """A pairing link just made: its record and its code (shown once, in the link)."""

    record: PairingRecord
    code: Secret


PairingState = Literal["valid", "unknown", "expired", "orphaned"]


@dataclass(frozen=True)
class PairingStatus:
    """What opening a pairing link would do (`Store.pairing_state`): `valid`, or
    why not; and, when valid, the token it signs in as (its name, for the page)."""

    state: PairingState
    token_id: str | None = None
    token_name: str | None = None


@dataclass(frozen=True)
class Edited:
    """A token before and after `edit`, and which fields changed (none: nothing written)."""

    before: TokenRecord
    after: TokenRecord
    changed: tuple[str, ...]
    ended: tuple[SessionRecord, ...] = ()
    """The token's browser sessions the edit ended (permissions, directories or
    expiry changed)."""


@dataclass(frozen=True)
class Copied:
    """What `Store.copy_in` did with each record it was given."""

    copied: tuple[TokenRecord, ...]
    present: tuple[TokenRecord, ...]
    """Already in the store with the same id and secret: skipped."""
    conflicts: tuple[tuple[TokenRecord, str], ...]
    """Not copied, with why."""


@dataclass(frozen=True)
class Migration:
    records: tuple[TokenRecord, ...]
    backup: Path
    unusable: tuple[str, ...] = ()
    """Names of migrated tokens whose old secret cannot be sent as a bearer token
    (not RFC 6750 token68, over 512 characters, or a malformed `ocat_...`):
    they are kept, but must be rotated to be used again."""


# --- what only some engines can do: callers ask for the capability, never the engine ---


@dataclass(frozen=True)
class SchemaChange:
    """What `init_schema` / `upgrade_schema` did (or, `outdated` / `missing`, why
    it did nothing), from which schema version (None: none) to which."""

    outcome: Literal["created", "upgraded", "current", "outdated", "missing"]
    before: int | None
    after: int | None
