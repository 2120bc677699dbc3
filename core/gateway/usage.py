"""`last_used_at` for accepted tokens (and `last_seen_at` for browser sessions):
noted in O(1) on the request path, written later.

A request only calls `seen(token_id, client)` (and `seen_session(session_id,
client)` when it came with a sign-in cookie): a dict lookup and a clock read. A
token or session is noted at most once per `min_interval` (a minute), with the
client address it was used from, so a busy token costs one store write a minute,
not one per request. A background task wakes every
`flush_every` seconds and hands the batch to the store's locked atomic write
(`Store.record_usage`, and `Store.record_session_seen` when given) in a worker
thread, so the event loop never waits for the lock or the disk. A failed write
is kept and retried, each failed round doubling the wait (up to `MAX_BACKOFF`
rounds), and its warning is said once, not every round, until a write works
again; shutdown flushes what is left. A store known to be read-only at start
gets no recorder at all (core/cli/serve.py says so once).

The gateway never reads its own batch back: the file engine's readers share the
newest version their store wrote (core/store/file/engine.py `_Latest`), and a
database's authorizer reads just the rows that changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar

from core.gateway.background import Background
from core.model.clock import Clock, system_clock

T = TypeVar("T")

Used = datetime | tuple[datetime, str | None]
"""A use: when, with the client address (a bare time when it is not known) -
what `Store.record_usage` takes."""
UsageWriter = Callable[[Mapping[str, Used]], object]
SessionWriter = Callable[[Mapping[str, tuple[datetime, str | None]]], object]
V = TypeVar("V", bound=Used)

MAX_BACKOFF = 60
"""After failed rounds, at most this many `flush_every` periods pass between tries
(5 minutes at the default 5 s)."""


class UsageRecorder:
    def __init__(
        self,
        write: UsageWriter,
        *,
        write_sessions: SessionWriter | None = None,
        clock: Clock = system_clock,
        min_interval: float = 60.0,
        flush_every: float = 5.0,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._write = write
        self._write_sessions = write_sessions
        self._clock = clock
        self._min_interval = min_interval
        self._flush_every = flush_every
        self._warn = warn
        self._noted: dict[str, datetime] = {}
        self._pending: dict[str, Used] = {}
        self._sessions_noted: dict[str, datetime] = {}
        self._sessions_pending: dict[str, tuple[datetime, str | None]] = {}
        self._background = Background(self._run)
        self._flush_lock = asyncio.Lock()
        self._failed_rounds = 0
        self._said: dict[str, str] = {}
        """Per writer, the failure last warned about (until one of its writes works)."""
        self.writes = 0

    @property
    def pending(self) -> Mapping[str, Used]:
        return dict(self._pending)

    @property
    def pending_sessions(self) -> Mapping[str, tuple[datetime, str | None]]:
        return dict(self._sessions_pending)

    def seen(self, token_id: str, client: str | None = None) -> None:
        """Called for every accepted request: cheap, never blocks, never raises."""
        now = self._clock()
        last = self._noted.get(token_id)
        if last is not None and (now - last).total_seconds() < self._min_interval:
            return
        self._noted[token_id] = now
        self._pending[token_id] = now if client is None else (now, client)

    def seen_session(self, session_id: str, client: str | None = None) -> None:
        """Called for every request accepted on a sign-in cookie (as `seen`)."""
        if self._write_sessions is None:
            return
        now = self._clock()
        last = self._sessions_noted.get(session_id)
        if last is not None and (now - last).total_seconds() < self._min_interval:
            return
        self._sessions_noted[session_id] = now
        self._sessions_pending[session_id] = (now, client)

    async def flush(self) -> None:
        """Write the pending batches now (in a worker thread)."""
        async with self._flush_lock:
            failed = False
            if self._pending:
                batch, self._pending = self._pending, {}
                if await self._hand_over(self._write, batch, "last_used_at"):
                    self.writes += 1
                else:  # keep the batch; a later round retries
                    _keep_newest(self._pending, batch)
                    failed = True
            if self._sessions_pending and self._write_sessions is not None:
                seen, self._sessions_pending = self._sessions_pending, {}
                if not await self._hand_over(self._write_sessions, seen, "a session's last seen"):
                    _keep_newest(self._sessions_pending, seen)
                    failed = True
            self._failed_rounds = self._failed_rounds + 1 if failed else 0

    @property
    def backoff(self) -> int:
        """How many `flush_every` periods the background task waits before its next
        round: 1, then doubling with each failed round, up to MAX_BACKOFF."""
        return min(1 << min(self._failed_rounds, 16), MAX_BACKOFF)

    async def _hand_over(self, write: Callable[[T], object], batch: T, what: str) -> bool:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, write, batch)
        except Exception as exc:
            message = f"could not record {what} (will retry): {exc}"
            if self._said.get(what) != message:  # the same failure, every round, is noise
                self._said[what] = message
                self._warn(message)
            return False
        self._said.pop(what, None)
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every * self.backoff)
            await self.flush()

    def start(self) -> None:
        self._background.start()

    async def close(self) -> None:
        """Stop the background task and write what is still pending."""
        await self._background.close()
        await self.flush()


def _when(use: Used) -> datetime:
    return use[0] if isinstance(use, tuple) else use


def _keep_newest(pending: dict[str, V], batch: Mapping[str, V]) -> None:
    """Put a batch that could not be written back, unless a newer use came meanwhile."""
    for key, use in batch.items():
        newer = pending.get(key)
        if newer is None or _when(newer) < _when(use):
            pending[key] = use
