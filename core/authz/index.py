"""The tokens and browser sessions of one version of the store, keyed by the
SHA-256 digest of their secret, and the credentials a request brings
(`Authorization: Bearer`, or Basic with the token as the password).

The index holds `TokenEntry`s (core.store.entries): what a decision reads of a
token and nothing else - about 300 bytes a token where a record takes 3 KB."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from core.model.permissions import Permission
from core.model.records import SessionRecord, TokenRecord
from core.store.entries import TokenEntry, entry_of, raw_digest

Hit = tuple[TokenEntry, frozenset[Permission], datetime | None]
"""A token found: its entry, its permissions and its expiry (UTC)."""


class SessionHit(NamedTuple):
    """A browser session found by its id: the session, its end (UTC), and its
    token's entry, permissions and expiry (UTC), as `TokenIndex.match` gives them."""

    session: SessionRecord
    expires: datetime
    token: Hit


class TokenIndex:
    """Entries keyed by the raw SHA-256 digest of their secret, and browser
    sessions keyed by the digest of theirs. Never changed once built: a new
    version of the store makes a new index (`updated`), which may share dicts.

    A session is indexed with its token's entry (so a decision on it is one
    lookup); for that, and for `by_id`, the index keeps the entries by id too,
    built on first use - a store without sessions pays nothing for it until
    something asks a token by id."""

    __slots__ = ("_by_digest", "_by_id", "_legacy", "_sessions", "has_legacy", "sessions")

    def __init__(
        self, records: Sequence[TokenRecord] = (), sessions: Sequence[SessionRecord] = ()
    ) -> None:
        self._setup({}, 0, None, tuple(sessions))
        self._add([entry_of(r) for r in records])
        self._session_table()

    @classmethod
    def of(
        cls, entries: Sequence[TokenEntry], sessions: tuple[SessionRecord, ...] = ()
    ) -> TokenIndex:
        """The index of these entries and sessions."""
        new = cls.__new__(cls)
        new._setup({}, 0, None, sessions)
        new._add(entries)
        new._session_table()  # built here, on the reading thread, not by a request
        return new

    def _setup(
        self,
        by_digest: dict[bytes, TokenEntry],
        legacy: int,
        by_id: dict[str, TokenEntry] | None,
        sessions: tuple[SessionRecord, ...],
    ) -> None:
        self._by_digest = by_digest
        self._legacy = legacy
        self.has_legacy = legacy > 0
        self._by_id = by_id
        self.sessions = sessions
        """The browser sessions of this version (each of a token indexed here)."""
        self._sessions: dict[bytes, tuple[bytes, SessionHit]] | None = None

    def _add(self, entries: Sequence[TokenEntry]) -> None:
        by_digest = self._by_digest
        for entry in entries:
            by_digest[entry.digest] = entry
        self._legacy += sum(1 for e in entries if e.legacy)
        self.has_legacy = self._legacy > 0

    def updated(
        self,
        removed: Sequence[TokenEntry],
        added: Sequence[TokenEntry],
        sessions: tuple[SessionRecord, ...] = (),
    ) -> TokenIndex:
        """A new index: this one without `removed`, with `added`, and `sessions` (a
        change of a few tokens costs a dict copy, not a rebuild; one of sessions
        alone, not even that: only the sessions, which are few, are indexed again)."""
        new = TokenIndex.__new__(TokenIndex)
        if not removed and not added:  # only sessions changed: share the dicts
            new._setup(self._by_digest, self._legacy, self._by_id, sessions)
            new._session_table()
            return new
        by_digest = dict(self._by_digest)
        by_id = None if self._by_id is None else dict(self._by_id)
        for entry in removed:
            by_digest.pop(entry.digest, None)
            if by_id is not None:
                by_id.pop(entry.id, None)
        if by_id is not None:  # kept up to date rather than rebuilt
            by_id.update((e.id, e) for e in added)
        legacy = self._legacy - sum(1 for e in removed if e.legacy)
        new._setup(by_digest, legacy, by_id, sessions)
        new._add(added)
        new._session_table()
        return new

    def __len__(self) -> int:
        return len(self._by_digest)

    @property
    def session_count(self) -> int:
        return len(self._session_table())

    def by_id(self, token_id: str) -> TokenEntry | None:
        """The token whose id this is."""
        by_id = self._by_id
        if by_id is None:
            by_id = self._by_id = {e.id: e for e in self._by_digest.values()}
        return by_id.get(token_id)

    def _session_table(self) -> dict[bytes, tuple[bytes, SessionHit]]:
        table = self._sessions
        if table is None:
            table = {}
            if not self.sessions:
                self._sessions = table
                return table
            for session in self.sessions:
                entry = self.by_id(session.token_id)
                if entry is None:  # its token is gone: no session (the store drops it)
                    continue
                raw = raw_digest(session.digest)
                hit = (entry, entry.permissions, entry.expires)
                table[raw] = (raw, SessionHit(session, session.expires_at.astimezone(UTC), hit))
            self._sessions = table
        return table

    def match_session(self, session_id: str) -> SessionHit | None:
        """The session whose id this is (the cookie's value), with its token's entry."""
        if not self.sessions:
            return None
        computed = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()
        hit = self._session_table().get(computed)
        if hit is None or not hmac.compare_digest(hit[0], computed):
            return None
        return hit[1]

    def lookup(self, token: str) -> TokenEntry | None:
        hit = self.match(token)
        return None if hit is None else hit[0]

    def match(self, token: str) -> Hit | None:
        """The entry, its permissions (as a set) and its expiry (in UTC)."""
        computed = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        entry = self._by_digest.get(computed)
        if entry is None or not hmac.compare_digest(entry.digest, computed):
            return None
        return entry, entry.permissions, entry.expires
