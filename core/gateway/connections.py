"""Connection slots: a cap in all, a share per client address, and room made by
dropping connections that never finished sending a request head.

One client without a token must not be able to hold every slot (opening
hundreds of sockets and trickling, or never sending, a request head). So:

- each client address gets at most `per_client` open connections (0: no share);
- when the cap or a client's share is reached, the oldest connection that has
  been open for at least `min_age` seconds without completing its first
  request head is dropped to make room - a real client sends its head at once,
  so what gets dropped is a connection that is only holding a slot;
- only when there is no such connection is the newcomer answered 503.

`Tracked` wraps aiohttp's protocol for one connection: it counts the
connection and watches the bytes go by for the end of the first request head
(`\\r\\n\\r\\n`); everything else is handed over unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

_HEAD_END = b"\r\n\r\n"


class Slots:
    def __init__(
        self,
        total: int,
        per_client: int = 0,
        *,
        min_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.per_client = per_client
        self.min_age = min_age
        self._clock = clock
        self._open: dict[str, int] = {}
        self._count = 0
        # connections still waiting for their first complete request head, oldest first
        self._waiting: OrderedDict[Tracked, tuple[float, str]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return self._count

    def admit(self, conn: Tracked, peer: str) -> bool:
        at_share = self.per_client and self._open.get(peer, 0) >= self.per_client
        if at_share and not self._evict(peer):
            return False
        if self._count >= self.total and not self._evict(None):
            return False
        self._open[peer] = self._open.get(peer, 0) + 1
        self._count += 1
        self._waiting[conn] = (self._clock(), peer)
        return True

    def _evict(self, peer: str | None) -> bool:
        """Drop the oldest idle half-sent connection (of `peer`, or of anyone)."""
        now = self._clock()
        for conn, (opened, owner) in self._waiting.items():
            if now - opened < self.min_age:
                return False  # the rest are younger still
            if peer is None or owner == peer:
                del self._waiting[conn]
                self.evicted += 1
                conn.evict()
                self._released(owner)
                return True
        return False

    def head_complete(self, conn: Tracked) -> None:
        self._waiting.pop(conn, None)

    def released(self, conn: Tracked, peer: str) -> None:
        if self._waiting.pop(conn, None) is not None or not conn.evicted:
            self._released(peer)

    def _released(self, peer: str) -> None:
        self._count -= 1
        left = self._open.get(peer, 1) - 1
        if left > 0:
            self._open[peer] = left
        else:
            self._open.pop(peer, None)


class Tracked(asyncio.Protocol):
    """One connection: counted in `Slots`, otherwise aiohttp's protocol unchanged."""

    def __init__(
        self,
        inner: asyncio.Protocol,
        slots: Slots,
        busy: bytes,
        on_refused: Callable[[], None],
    ) -> None:
        self._inner = inner
        self._slots = slots
        self._busy = busy
        self._on_refused = on_refused
        self._transport: asyncio.BaseTransport | None = None
        self._peer = "?"
        self._admitted = False
        self._head_seen = False
        self._tail = b""
        self.evicted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._slots.admit(self, self._peer):
            self._on_refused()
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(self._busy)
            transport.close()
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def evict(self) -> None:
        self.evicted = True
        if self._transport is not None:
            abort = getattr(self._transport, "abort", None)
            if abort is not None:
                abort()
            else:
                self._transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if not self._head_seen:
            window = self._tail + data
            if _HEAD_END in window:
                self._head_seen = True
                self._slots.head_complete(self)
            else:
                self._tail = window[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self._admitted:
            return None
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self._slots.released(self, self._peer)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()
