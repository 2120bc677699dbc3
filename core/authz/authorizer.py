"""`authorize` over a store, following it as it changes (`CachedAuthorizer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio  # imported for real only by a server (start-up cost of the CLI)

from collections.abc import Hashable
from datetime import datetime

from core.authz.decision import Decision, Reason, TokenIndex, authorize, bearer_token
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
from core.store import RecordSource, Snapshot


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
        self._index = TokenIndex(())
        self._indexed: Snapshot[Hashable] | None = None
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
        worker thread (one read for every request that waits for it)."""
        fresh, key = self._fresh()
        if fresh:
            return self._index
        import asyncio

        pending = self._pending
        if pending is None or pending.done():
            pending = asyncio.get_running_loop().run_in_executor(None, self._reload, key)
            self._pending = pending
        await asyncio.shield(pending)
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
        ):
            # A racy version read once more and found the same: nothing to do.
            self.verifications += 1
            self._indexed = found
            return
        self.reloads += 1
        self._install(found)

    def _install(self, found: Snapshot[Hashable]) -> None:
        indexed = self._indexed
        if found.delta is not None and indexed is not None and found.based_on == indexed.version:
            self._index = self._index.updated(*found.delta)
        else:
            self._index = TokenIndex(found.records)
        self._indexed = found

    def held(self) -> Snapshot[Hashable] | None:
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

    def still_valid(self, authorization: str) -> bool:
        """The credentials name a token of the held version that has not expired."""
        token = bearer_token(authorization)
        if isinstance(token, Reason):
            return False
        hit = self._index.match(token)
        return hit is not None and (hit[2] is None or self.clock() < hit[2])

    def expiry(self, token_id: str) -> datetime | None:
        """When the token `token_id` of the held version expires (None: never, or
        no such token)."""
        indexed = self._indexed
        record = None if indexed is None else indexed.by_id(token_id)
        return None if record is None or record.expires_at is None else record.expires_at

    def decide(
        self,
        authorization: str | None,
        method: str,
        target: str,
        *,
        headers: Headers = no_headers,
        sessions: SessionLookup = no_sessions,
        index: TokenIndex | None = None,
    ) -> Decision:
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
        )
