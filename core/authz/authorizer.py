"""`authorize` over a store, following it as it changes (`CachedAuthorizer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio  # imported for real only by a server (start-up cost of the CLI)

from collections.abc import Hashable
from datetime import datetime

from core.authz.decision import Decision, Reason, authorize, bearer_token, format_problem
from core.authz.index import TokenIndex
from core.authz.policy import Policy, default_policy
from core.authz.scope import (
    UNRESTRICTED,
    Headers,
    ServerScope,
    SessionLookup,
    no_headers,
    no_sessions,
)
from core.model.clock import Clock, system_clock
from core.model.errors import StoreError
from core.model.records import SessionRecord
from core.store import RecordSource, Snapshot
from core.store.entries import Entries, TokenEntry, entry_of

Version = Snapshot[Hashable] | Entries
"""A version of the store as read: records (a database, `StoreReader`) or the
file's entries (`EntryReader`, what a server's store gives)."""


class CachedAuthorizer:
    """`authorize` over a store, re-reading it only when it changes.

    `source` is the store's reader (`Store.new_reader()`: the same for every
    engine). Every decision asks it whether the version held is still current -
    for the file, a stat (core.store.StoreReader); for a database, the change
    number its listener holds - so a
    deletion or rotation applies to the very next request, not on a timer. What changed is
    read again block by block, and the index of tokens updated for the records
    that changed. A missing file means no tokens (everything is denied); an
    unreadable or corrupt file raises its StoreError on every decision until
    fixed - read once per change, not per decision: fail closed, never fall back
    to an older, possibly revoked, version.

    A server awaits `fresh_index()` first: a changed file is then read on a
    worker thread, never on the thread that serves requests.
    """

    def __init__(
        self,
        source: RecordSource,
        *,
        clock: Clock = system_clock,
        policy: Policy | None = None,
        scope: ServerScope = UNRESTRICTED,
    ) -> None:
        self._reader = source
        self.policy = policy if policy is not None else default_policy()
        self.scope = scope
        """The server's directory scope; replaced whole (one assignment) when the
        server learns opencode's directory."""
        self.clock = clock
        self._index = TokenIndex()
        self._indexed: Version | None = None
        self._failure: tuple[Hashable, StoreError] | None = None
        self._pending: asyncio.Future[None] | None = None
        self.reloads = 0
        """Reads that found a new version (the index then follows its changes)."""
        self.verifications = 0
        """Reads of a racy version (see StoreReader) that found it unchanged."""

    def _fresh(self) -> tuple[bool, Hashable]:
        """(whether the index is the file's current version, the file's key);
        raises the StoreError of a broken version already read."""
        key = self._reader.stat_key()
        failure = self._failure
        if failure is not None and failure[0] == key:
            raise failure[1]
        indexed = self._indexed
        current = indexed is not None and indexed is self._reader.current
        return current and self._reader.is_current(key), key

    def index(self) -> TokenIndex:
        fresh, key = self._fresh()
        if not fresh:
            self._reload(key)
        return self._index

    async def fresh_index(self) -> TokenIndex:
        """The index of the file's current version; a changed file is read on a
        worker thread (one read for every request that waits for it).

        A read already under way may have begun before the change this request
        saw (the revocation watcher's, another request's): the request waits for
        it, then looks again, and reads itself if the file is still ahead - so a
        token deleted before a request arrives is never answered from an index
        read before the deletion."""
        import asyncio

        while True:
            fresh, key = self._fresh()
            if fresh:
                return self._index
            pending = self._pending
            own = pending is None or pending.done()
            if own:
                pending = asyncio.get_running_loop().run_in_executor(None, self._reload, key)
                self._pending = pending
            assert pending is not None
            try:
                await asyncio.shield(pending)
            except StoreError:
                if own:
                    raise
                continue  # another's read, of a version before this one's: look again
            if own:  # begun after this request's look: a version at least as new
                return self._index

    def _reload(self, key: Hashable) -> None:
        try:
            found = self._reader.reload()
        except StoreError as exc:
            self._failure = (key, exc)
            raise
        self._failure = None
        indexed = self._indexed
        if (
            indexed is not None
            and found.delta is not None
            and not found.delta[0]
            and not found.delta[1]
            and found.based_on == indexed.version
            and (found.sessions is indexed.sessions or found.sessions == indexed.sessions)
        ):
            # A racy version read once more and found the same: nothing to do.
            self.verifications += 1
            self._indexed = found
            return
        self.reloads += 1
        self._install(found)

    def _install(self, found: Version) -> None:
        indexed = self._indexed
        follows = indexed is not None and found.based_on == indexed.version
        if isinstance(found, Snapshot) and found.delta is not None and follows:
            gone, new = found.delta
            self._index = self._index.updated(
                [entry_of(r) for r in gone], [entry_of(r) for r in new], sessions=found.sessions
            )
        elif isinstance(found, Entries) and found.delta is not None and follows:
            self._index = self._index.updated(*found.delta, sessions=found.sessions)
        elif isinstance(found, Snapshot):
            self._index = TokenIndex.of([entry_of(r) for r in found.records], found.sessions)
        elif found.entries is not None:
            self._index = TokenIndex.of(found.entries, found.sessions)
        else:  # changes from a version not held here: read it whole
            forget = getattr(self._reader, "forget", None)
            if forget is None:
                raise RuntimeError("a change from a version the authorizer does not hold")
            forget()
            self._install(self._reader.reload())
            return
        self._indexed = found

    def held(self) -> Version | None:
        """The version the index was built from."""
        return self._indexed

    def version(self) -> Hashable:
        """The version decisions are made on (the held snapshot's fingerprint, None
        before the first read); raises the StoreError of a version that could not
        be read. Open connections compare it to know when to be decided again."""
        failure = self._failure
        if failure is not None:
            raise failure[1]
        indexed = self._indexed
        return None if indexed is None else indexed.version

    def still_valid(self, authorization: str | None, *, cookie: str | None = None) -> bool:
        """The credentials name a token of the held version that has not expired -
        or, without `Authorization` credentials, `cookie` (the sign-in cookie's
        value) names a session of the held version that has not ended, of such a
        token."""
        token = bearer_token(authorization)
        if isinstance(token, Reason):
            if token is not Reason.MISSING_TOKEN or cookie is None:
                return False
            found = self._index.match_session(cookie)
            if found is None:
                return False
            now = self.clock()
            expires = found.token[2]
            return now < found.expires and (expires is None or now < expires)
        hit = self._index.match(token)
        return hit is not None and (hit[2] is None or self.clock() < hit[2])

    def token_of(self, token: str, *, index: TokenIndex | None = None) -> TokenEntry | None:
        """The entry of the token whose secret this is (pasted into the login
        page), if the store's current version has it and it has not expired; the
        format is checked as `authorize` checks it (a PR #8217 secret only where
        the store holds one). A server awaits `fresh_index()` first (and may pass
        it), so that no read happens here."""
        token = token.strip()
        index = self.index() if index is None else index
        hit = index.match(token)
        if hit is None or (hit[0].legacy and format_problem(token, index) is not None):
            return None
        return None if hit[2] is not None and self.clock() >= hit[2] else hit[0]

    def session_of(self, cookie: str, *, index: TokenIndex | None = None) -> SessionRecord | None:
        """The browser session this cookie value names in the store's current
        version, past its end or not (sign-out ends it either way); as `token_of`,
        after `fresh_index()`."""
        index = self.index() if index is None else index
        found = index.match_session(cookie)
        return None if found is None else found.session

    def expiry(self, token_id: str) -> datetime | None:
        """When the token `token_id` of the held version expires (None: never, or
        no such token)."""
        entry = self._index.by_id(token_id)
        return None if entry is None else entry.expires

    def session_expiry(self, session_id: str) -> datetime | None:
        """When the browser session `session_id` (its public id) of the held version
        ends (never later than its token's expiry); None: no such session."""
        for session in self._index.sessions:
            if session.id == session_id:
                return session.expires_at
        return None

    def decide(
        self,
        authorization: str | None,
        method: str,
        target: str,
        *,
        headers: Headers = no_headers,
        sessions: SessionLookup = no_sessions,
        index: TokenIndex | None = None,
        cookie: str | None = None,
    ) -> Decision:
        """`authorize` on the held version; `cookie` is the sign-in cookie's value
        (used when there are no `Authorization` credentials)."""
        return authorize(
            self.index() if index is None else index,
            authorization,
            method,
            target,
            now=self.clock(),
            policy=self.policy,
            scope=self.scope,
            headers=headers,
            sessions=sessions,
            cookie=cookie,
        )
