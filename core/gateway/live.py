"""Open event streams and WebSockets, decided again for as long as they stay open.

A request is decided once, but an event stream or a terminal lasts as long as
its client keeps it open: without this, a token deleted, expired or stripped of
`execute` would keep receiving events and typing into a shell. So the gateway
registers each such connection (`OpenConnections.hold`) with a way to decide it
again - its own credentials, method, target and forwarded directory headers, or
the credentials that asked for its PTY ticket - and a way to end it.

A background task, which only runs while something is held, looks at the store
every `interval` seconds (the file's stat, a database's notified change number:
the same cheap check every request makes). When the store has a new version, or
the earliest expiry among the held tokens has passed, every held connection is
decided again, concurrently; those that no longer pass are ended at once - a
WebSocket closed with 1008 (policy violation) and the reason, an event stream
ended - and noted in the access log as `revoked`. A store that cannot be read
ends them all: new requests get 503 then, and an open connection is no better
than a new one (fail closed).

forward-auth cannot do this: after a proxy's auth subrequest it never sees the
connection again (see forward_auth.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from core.authz.authorizer import CachedAuthorizer
from core.gateway.background import Background
from core.model.errors import StoreError

Recheck = Callable[[], Awaitable[str | None]]
"""Decide the connection again: None while it still passes, else why not."""
End = Callable[[str], Awaitable[None]]
"""End the connection, saying why."""

DEFAULT_INTERVAL = 0.2
"""How often the store is looked at while a connection is held: a revocation
reaches open connections within this (plus a re-read of the store)."""


@dataclass(eq=False, slots=True)
class Held:
    """One open event stream or WebSocket."""

    token_id: str
    recheck: Recheck
    end: End
    session_id: str | None = None
    """The browser session it came with (a cookie), whose end can come before
    its token's."""
    ended: str | None = None
    """Why it was ended, once it was (the relay reads it to log `revoked`)."""


@dataclass(frozen=True, slots=True)
class Revocable:
    """What a connection about to be held open needs: its token, and how to
    decide it again."""

    token_id: str
    recheck: Recheck
    registry: OpenConnections
    session_id: str | None = None

    def hold(self, end: End) -> Held:
        return self.registry.hold(self.token_id, self.recheck, end, self.session_id)


class OpenConnections:
    """The gateway's open streams and WebSockets, by token id (module docstring)."""

    def __init__(
        self,
        authorizer: CachedAuthorizer,
        *,
        interval: float = DEFAULT_INTERVAL,
        warn: Callable[[str], None] = lambda message: None,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._authorizer = authorizer
        self._interval = interval
        self._warn = warn
        self._changed = changed
        self._by_token: dict[str, set[Held]] = {}
        self._new: list[Held] = []
        """Held since the last look: decided on whatever version was current when
        their request came, which may be older than the one seen since."""
        self._wake = asyncio.Event()
        self._background = Background(self._run)
        self._seen: Hashable = None
        self.rechecks = 0
        """Rounds of deciding every held connection again (for tests)."""

    def __len__(self) -> int:
        return sum(len(held) for held in self._by_token.values())

    def tokens(self) -> frozenset[str]:
        return frozenset(self._by_token)

    def hold(
        self, token_id: str, recheck: Recheck, end: End, session_id: str | None = None
    ) -> Held:
        held = Held(token_id, recheck, end, session_id)
        self._by_token.setdefault(token_id, set()).add(held)
        self._new.append(held)
        self._wake.set()
        return held

    def release(self, held: Held) -> None:
        group = self._by_token.get(held.token_id)
        if group is not None:
            group.discard(held)
            if not group:
                del self._by_token[held.token_id]

    def start(self) -> None:
        self._background.start()

    async def close(self) -> None:
        await self._background.close()

    # --- the watch ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._by_token:
                self._wake.clear()
                await self._wake.wait()
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception as exc:  # never let the watch die: it is what revokes
                self._warn(f"could not decide open connections again: {exc!r}")

    def _version(self) -> Hashable:
        try:
            return self._authorizer.version()
        except StoreError as exc:
            return exc

    async def check(self) -> None:
        """Decide every held connection again if the store changed or a held
        token's expiry has passed; else only those held since the last look (the
        store may have changed between their decision and now)."""
        new, self._new = self._new, []
        if not self._by_token:
            return
        with contextlib.suppress(StoreError):  # each recheck meets it, and ends
            await self._authorizer.fresh_index()
        version = self._version()
        if version != self._seen or self._expiry_passed():
            self._seen = version
            await self.recheck_all()
        elif new:
            await self._recheck([held for held in new if held.ended is None])

    def _expiry_passed(self) -> bool:
        """A held token's expiry, or a held browser session's end (30 days at
        most, and sooner than its token's), has passed."""
        now = self._authorizer.clock()
        for token_id, group in self._by_token.items():
            expires = self._authorizer.expiry(token_id)
            if expires is not None and now >= expires:
                return True
            for held in group:
                if held.session_id is not None:
                    ends = self._authorizer.session_expiry(held.session_id)
                    if ends is None or now >= ends:
                        return True
        return False

    async def recheck_all(self) -> None:
        self.rechecks += 1
        self._changed()
        await self._recheck([held for group in self._by_token.values() for held in group])

    async def _recheck(self, everything: list[Held]) -> None:
        verdicts = await asyncio.gather(
            *(held.recheck() for held in everything), return_exceptions=True
        )
        endings = []
        for held, verdict in zip(everything, verdicts, strict=True):
            if verdict is None:
                continue
            why = verdict if isinstance(verdict, str) else "it could not be decided again"
            endings.append(self._end(held, why))
        await asyncio.gather(*endings)

    async def _end(self, held: Held, why: str) -> None:
        if held.ended is not None:
            return
        held.ended = why
        self.release(held)
        try:
            await held.end(why)
        except Exception as exc:  # the connection is gone either way
            self._warn(f"ending a revoked connection failed: {exc!r}")
