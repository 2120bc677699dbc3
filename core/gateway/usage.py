"""`last_used_at` for accepted tokens: noted in O(1) on the request path, written later.

A request only calls `seen(token_id)`: a dict lookup and a clock read. A token is
noted at most once per `min_interval` (a minute), so a busy token costs one
store write a minute, not one per request. A background task wakes every
`flush_every` seconds and hands the batch to the store's locked atomic write
(`Store.record_usage`) in a worker thread, so the event loop never waits for
the lock or the disk. A failed write is retried on the next round; shutdown
flushes what is left.

The gateway never reads its own batch back: the file engine's readers share the
newest version their store wrote (core/store/file/engine.py `_Latest`), and a
database's authorizer reads just the rows that changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime

from core.gateway.background import Background
from core.model.clock import Clock, system_clock

UsageWriter = Callable[[Mapping[str, datetime]], object]


class UsageRecorder:
    def __init__(
        self,
        write: UsageWriter,
        *,
        clock: Clock = system_clock,
        min_interval: float = 60.0,
        flush_every: float = 5.0,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._write = write
        self._clock = clock
        self._min_interval = min_interval
        self._flush_every = flush_every
        self._warn = warn
        self._noted: dict[str, datetime] = {}
        self._pending: dict[str, datetime] = {}
        self._background = Background(self._run)
        self._flush_lock = asyncio.Lock()
        self.writes = 0

    @property
    def pending(self) -> Mapping[str, datetime]:
        return dict(self._pending)

    def seen(self, token_id: str) -> None:
        """Called for every accepted request: cheap, never blocks, never raises."""
        now = self._clock()
        last = self._noted.get(token_id)
        if last is not None and (now - last).total_seconds() < self._min_interval:
            return
        self._noted[token_id] = now
        self._pending[token_id] = now

    async def flush(self) -> None:
        """Write the pending batch now (in a worker thread)."""
        async with self._flush_lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, self._write, batch)
                self.writes += 1
            except Exception as exc:  # keep the batch; the next round retries
                for token_id, when in batch.items():
                    newer = self._pending.get(token_id)
                    if newer is None or newer < when:
                        self._pending[token_id] = when
                self._warn(f"could not record last_used_at (will retry): {exc}")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every)
            await self.flush()

    def start(self) -> None:
        self._background.start()

    async def close(self) -> None:
        """Stop the background task and write what is still pending."""
        await self._background.close()
        await self.flush()
