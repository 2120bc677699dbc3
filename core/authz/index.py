"""The tokens and browser sessions of one version of the store, keyed by the
SHA-256 digest of their secret, and the credentials a request brings
(`Authorization: Bearer`, or Basic with the token as the password)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from core.model.permissions import Permission
from core.model.records import SessionRecord, TokenRecord
from core.model.token_format import (
    DIGEST_PREFIX,
)

_Hit = tuple[bytes, TokenRecord, frozenset[Permission], datetime | None]


class SessionHit(NamedTuple):
    """A browser session found by its id: the session, its end (UTC), and its
    token's record, permissions and expiry (UTC), as `TokenIndex.match` gives them."""

    session: SessionRecord
    expires: datetime
    token: tuple[TokenRecord, frozenset[Permission], datetime | None]


class TokenIndex:
    """Records keyed by the raw SHA-256 digest of their secret, and browser sessions
    keyed by the digest of theirs. Build once per store version.

    A session is indexed with its token's entry (so a decision on it is one
    lookup); for that the index keeps the tokens by id too, but only while the
    store has sessions - a store without any pays nothing for them."""

    __slots__ = ("_by_digest", "_by_id", "_legacy", "_sessions", "has_legacy")

    def __init__(
        self, records: Sequence[TokenRecord], sessions: Sequence[SessionRecord] = ()
    ) -> None:
        self._by_digest: dict[bytes, _Hit] = {}
        self._add(records)
        self._legacy = sum(1 for record in records if record.legacy)
        self.has_legacy = self._legacy > 0
        self._by_id: dict[str, _Hit] | None = None
        self._sessions: dict[bytes, tuple[bytes, SessionHit]] = {}
        if sessions:
            self._index_sessions(sessions)

    def _index_sessions(self, sessions: Sequence[SessionRecord]) -> None:
        by_id = self._by_id
        if by_id is None:
            by_id = self._by_id = {hit[1].id: hit for hit in self._by_digest.values()}
        for session in sessions:
            hit = by_id.get(session.token_id)
            if hit is None:  # its token is gone: no session (the store drops it)
                continue
            raw = bytes.fromhex(session.digest.removeprefix(DIGEST_PREFIX))
            found = SessionHit(session, session.expires_at.astimezone(UTC), hit[1:])
            self._sessions[raw] = (raw, found)

    def _add(self, records: Sequence[TokenRecord]) -> None:
        for record in records:
            raw = bytes.fromhex(record.digest.removeprefix(DIGEST_PREFIX))
            # The expiry in the standard UTC: pydantic's own tzinfo makes every
            # comparison with `now` about 8x slower.
            expires = None if record.expires_at is None else record.expires_at.astimezone(UTC)
            self._by_digest[raw] = (raw, record, frozenset(record.permissions), expires)

    def updated(
        self,
        removed: Sequence[TokenRecord],
        added: Sequence[TokenRecord],
        sessions: Sequence[SessionRecord] = (),
    ) -> TokenIndex:
        """A new index: this one without `removed`, with `added`, and `sessions` (a
        change of a few records costs a dict copy, not a rebuild; one of sessions
        alone, not even that: the sessions, which are few, are indexed again).
        An index is never changed once built, so two may share their dicts."""
        new = TokenIndex.__new__(TokenIndex)
        same_tokens = not removed and not added  # only sessions changed: share the dicts
        new._by_digest = self._by_digest if same_tokens else dict(self._by_digest)
        for record in removed:
            new._by_digest.pop(bytes.fromhex(record.digest.removeprefix(DIGEST_PREFIX)), None)
        new._add(added)
        new._legacy = (
            self._legacy - sum(1 for r in removed if r.legacy) + sum(1 for r in added if r.legacy)
        )
        new.has_legacy = new._legacy > 0
        new._by_id = None
        new._sessions = {}
        if sessions:
            if self._by_id is not None and same_tokens:
                new._by_id = self._by_id
            elif self._by_id is not None:  # kept up to date rather than rebuilt
                by_id = dict(self._by_id)
                for record in removed:
                    by_id.pop(record.id, None)
                for record in added:
                    raw = bytes.fromhex(record.digest.removeprefix(DIGEST_PREFIX))
                    by_id[record.id] = new._by_digest[raw]
                new._by_id = by_id
            new._index_sessions(sessions)
        return new

    def __len__(self) -> int:
        return len(self._by_digest)

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def match_session(self, session_id: str) -> SessionHit | None:
        """The session whose id this is (the cookie's value), with its token's entry."""
        computed = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()
        hit = self._sessions.get(computed)
        if hit is None or not hmac.compare_digest(hit[0], computed):
            return None
        return hit[1]

    def lookup(self, token: str) -> TokenRecord | None:
        hit = self.match(token)
        return None if hit is None else hit[0]

    def match(
        self, token: str
    ) -> tuple[TokenRecord, frozenset[Permission], datetime | None] | None:
        """The record, its permissions (as a set) and its expiry (in UTC), built
        once per file version."""
        computed = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        hit = self._by_digest.get(computed)
        if hit is None or not hmac.compare_digest(hit[0], computed):
            return None
        return hit[1], hit[2], hit[3]
