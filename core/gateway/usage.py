"""`last_used_at` for accepted tokens: noted in O(1) on the request path, written later.

A request only calls `seen(token_id)`: a dict lookup and a clock read. A token is
noted at most once per `min_interval` (a minute), so a busy token costs one
store write a minute, not one per request. A background task wakes every
`flush_every` seconds and hands the batch to the store's locked atomic write
(`TokenStore.record_usage`) in a worker thread, so the event loop never waits for
the lock or the disk. A failed write is retried on the next round; shutdown
flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime

from core.authz.authorizer import CachedAuthorizer
from core.model.clock import Clock, system_clock
from core.store import Snapshot, Store, TokenStore

UsageWriter = Callable[[Mapping[str, datetime]], object]


def store_writer(store: Store, authorizer: CachedAuthorizer | None = None) -> UsageWriter:
    """`store.record_usage`, except that a store file deleted meanwhile is not
    re-created just to hold timestamps of tokens that no longer exist.

    With the gateway's `authorizer`, the write starts from the version the
    authorizer holds (no read of its own when nothing else changed the file), and
    returns what it wrote for `adopt` - so the gateway never reads back its own
    `last_used_at` batch. A database takes the batch as one UPDATE of those rows;
    the authorizer then reads just those rows, as for any other change."""

    if not isinstance(store, TokenStore):
        return lambda batch: store.record_usage(batch) and store.last_written

    def write(batch: Mapping[str, datetime]) -> object:
        if not store.path.exists():
            return None
        if authorizer is not None:
            held = authorizer.held()
            if held is not None and store.reader.current is not held:
                store.reader.adopt(held)
        if not store.record_usage(batch):
            return None
        return store.last_written

    return write


class UsageRecorder:
    def __init__(
        self,
        write: UsageWriter,
        *,
        clock: Clock = system_clock,
        min_interval: float = 60.0,
        flush_every: float = 5.0,
        warn: Callable[[str], None] = lambda message: None,
        written: Callable[[Snapshot], object] = lambda snapshot: None,
    ) -> None:
        self._write = write
        self._written = written
        self._clock = clock
        self._min_interval = min_interval
        self._flush_every = flush_every
        self._warn = warn
        self._noted: dict[str, datetime] = {}
        self._pending: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
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
                result = await loop.run_in_executor(None, self._write, batch)
                self.writes += 1
                if isinstance(result, Snapshot):
                    self._written(result)  # on the loop: the authorizer takes it
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
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the background task and write what is still pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
