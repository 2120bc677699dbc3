"""Connection slots: a cap in all, a share per client address, and room made by
dropping idle connections.

One client must not be able to hold every slot: by opening hundreds of sockets
and sending nothing, by trickling a request head, or by keeping keep-alive
connections open between requests (a client without a token cannot do the
last: the listener closes a connection after a 400 or 401, server.py). So:

- each client address gets at most `per_client` open connections (0: no share);
- a connection is *idle* while no request is in progress on it: from when it
  opens until its first request head is complete, and from the end of each
  response until the next head is complete. A request in progress - a slow
  upload, an event stream, a WebSocket - is never dropped;
- when the cap or a client's share is reached, the connection idle the longest
  (for a share: of that client) is closed to make room, once it has been idle
  `min_age` seconds: a client reusing a connection sends its next request at
  once, so a younger one may have a request on its way, an older one is only
  holding a slot;
- when there is no such connection, a newcomer over the cap waits, unread, for
  at most `min_age`: it takes the first slot given back (a connection closed,
  as every refused one is) or the slot of an idle connection that has become
  old enough, whichever comes first. It is answered 503 after that, or at once
  when its client is at its share, or too many newcomers wait already. So a
  client with a token gets in within `min_age` unless every slot has a request
  in progress.

Dropping is O(1): idle connections sit in insertion-ordered dicts (one in all,
one per client address), oldest first, since a connection that becomes idle
again goes to the end.

`Tracked` wraps aiohttp's protocol for one connection: it counts the connection
and, while it is idle, watches the bytes go by for the end of a request head
(`\\r\\n\\r\\n`), so a request is counted as in progress from its last head
byte, before aiohttp has even parsed it. The listener also tells it when a
handler starts (a pipelined request, parsed while the previous one was busy)
and when a response has been written out (`request_started`,
`response_finished`). Everything else is handed over to aiohttp unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, cast

_HEAD_END = b"\r\n\r\n"

MIN_AGE = 0.5
"""Seconds a connection must have been idle before it may be dropped. Long
enough for a request already on its way to arrive - a client reusing a
connection sends at once, so that is one trip across the network, well under
half a second on any path but a satellite link; short enough that a newcomer
at a full server, who waits for it, is answered within a second."""

_EARLY_LIMIT = 64 * 1024
"""Bytes a waiting newcomer may have sent before it is admitted (uvloop reads
them; see `Tracked._held_back`): a request head fits many times over."""

_PRECISION = 0.01
"""Added to a wait: asyncio may run a timer up to its clock's resolution early."""


class Connection(Protocol):
    def drop(self) -> None:
        """Close the connection to make room (its slot is already given back)."""

    def admitted(self) -> None:
        """A waiting newcomer has been given a slot."""


class Slots:
    def __init__(
        self,
        total: int,
        per_client: int = 0,
        *,
        min_age: float = MIN_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.per_client = per_client
        self.min_age = min_age
        self._clock = clock
        self._peer: dict[Connection, str] = {}  # every admitted connection
        self._open: dict[str, int] = {}
        # idle connections, oldest first: in all (with the time each became idle), by peer
        self._idle: OrderedDict[Connection, float] = OrderedDict()
        self._idle_of: dict[str, OrderedDict[Connection, None]] = {}
        # newcomers waiting for room, first come first served
        self._waiters: OrderedDict[Connection, str] = OrderedDict()
        self._waiting_of: dict[str, int] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._peer)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _at_share(self, peer: str) -> bool:
        return bool(self.per_client) and self._open.get(peer, 0) >= self.per_client

    def admit(self, conn: Connection, peer: str) -> bool:
        """Count `conn` in, dropping an idle connection to make room if need be.
        False: no room now (a newcomer may `wait`)."""
        if self._at_share(peer) and not self._drop_oldest(self._idle_of.get(peer)):
            return False
        if len(self._peer) >= self.total and not self._drop_oldest(self._idle):
            return False
        self._count_in(conn, peer)
        return True

    def _count_in(self, conn: Connection, peer: str) -> None:
        self.stop_waiting(conn)
        self._peer[conn] = peer
        self._open[peer] = self._open.get(peer, 0) + 1
        self.became_idle(conn)

    def wait(self, conn: Connection, peer: str) -> float | None:
        """Queue a newcomer `admit` found no room for: it is handed the first slot
        given back (`admitted`), and should `admit` again after the seconds
        returned, when an idle connection is old enough to drop. None: refuse it
        now - its client is at its share, or too many wait already."""
        waiting_here = self._waiting_of.get(peer, 0)
        if (
            self._at_share(peer)
            or len(self._waiters) >= self.total
            or (self.per_client and waiting_here >= self.per_client)
        ):
            return None
        self._waiters[conn] = peer
        self._waiting_of[peer] = waiting_here + 1
        return self.next_chance(peer, self.min_age)

    def next_chance(self, peer: str, limit: float) -> float:
        """Seconds (at most `limit`) until the idle connection `admit` would drop
        for `peer` is old enough."""
        candidates = self._idle_of.get(peer) if self._at_share(peer) else self._idle
        if not candidates:
            return limit
        since = self._idle[next(iter(candidates))]
        return min(limit, max(0.0, since + self.min_age - self._clock()) + _PRECISION)

    def stop_waiting(self, conn: Connection) -> None:
        peer = self._waiters.pop(conn, None)
        if peer is None:
            return
        left = self._waiting_of.get(peer, 1) - 1
        if left > 0:
            self._waiting_of[peer] = left
        else:
            self._waiting_of.pop(peer, None)

    def _drop_oldest(
        self, candidates: OrderedDict[Connection, None] | OrderedDict[Connection, float] | None
    ) -> bool:
        if not candidates:
            return False
        conn = next(iter(candidates))
        if self._clock() - self._idle[conn] < self.min_age:
            return False  # the rest are younger still
        self.evicted += 1
        self._free(conn)  # this room is for the newcomer, not for a waiter
        conn.drop()
        return True

    def became_idle(self, conn: Connection) -> None:
        """No request in progress on `conn` from now (opened, or its response done)."""
        peer = self._peer.get(conn)
        if peer is None or conn in self._idle:
            return
        self._idle[conn] = self._clock()
        self._idle_of.setdefault(peer, OrderedDict())[conn] = None

    def became_busy(self, conn: Connection) -> None:
        """A request is in progress on `conn`: it is not to be dropped."""
        if self._idle.pop(conn, None) is None:
            return
        peer = self._peer[conn]
        of_peer = self._idle_of[peer]
        del of_peer[conn]
        if not of_peer:
            del self._idle_of[peer]

    def released(self, conn: Connection) -> None:
        """`conn` is closed: its slot goes to the first waiter it fits. Idempotent."""
        if self._free(conn):
            self._hand_over()

    def _free(self, conn: Connection) -> bool:
        self.became_busy(conn)
        peer = self._peer.pop(conn, None)
        if peer is None:
            return False
        left = self._open.get(peer, 1) - 1
        if left > 0:
            self._open[peer] = left
        else:
            self._open.pop(peer, None)
        return True

    def _hand_over(self) -> None:
        for conn, peer in list(self._waiters.items()):
            if len(self._peer) >= self.total:
                return
            if not self._at_share(peer):  # else it waits for its own connection to age
                self._count_in(conn, peer)
                conn.admitted()


class Tracked(asyncio.Protocol):
    """One connection: counted in `Slots`, otherwise aiohttp's protocol unchanged."""

    def __init__(
        self,
        inner: asyncio.Protocol,
        slots: Slots,
        busy: bytes,
        on_refused: Callable[[], None],
        registry: dict[asyncio.BaseTransport, Tracked],
    ) -> None:
        self._inner = inner
        self._slots = slots
        self._busy = busy
        self._on_refused = on_refused
        self._registry = registry
        self._transport: asyncio.BaseTransport | None = None
        self._peer = "?"
        self._admitted = False
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._paused = False
        self._idle = True
        self._tail = b""
        self._waiting = False
        self._early = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if self._slots.admit(self, self._peer):
            self._start(transport)
            return
        reader = _reading(transport)
        if reader is None:
            self._refuse(transport)
            return
        wait = self._slots.wait(self, self._peer)
        if wait is None:
            self._refuse(transport)
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._slots.min_age
        reader.pause_reading()  # what it sends stays in the socket meanwhile
        self._paused = True
        self._waiting = True
        self._timer = loop.call_later(wait, self._try_again)

    def admitted(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._start(self._transport)

    def _try_again(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None:
            return
        if self._slots.admit(self, self._peer):
            self._start(transport)
            return
        loop = asyncio.get_running_loop()
        left = self._deadline - loop.time()
        if left > 0:
            self._timer = loop.call_later(
                self._slots.next_chance(self._peer, left), self._try_again
            )
            return
        self._slots.stop_waiting(self)
        self._waiting = False
        self._refuse(transport)

    def _start(self, transport: asyncio.BaseTransport) -> None:
        self._admitted = True
        self._waiting = False
        self._registry[transport] = self
        reader = _reading(transport)
        if self._paused and reader is not None:
            self._paused = False
            reader.resume_reading()
        self._inner.connection_made(transport)
        early, self._early = self._early, b""
        if early:
            self.data_received(early)

    def _held_back(self, data: bytes) -> None:
        """Bytes from a newcomer still waiting for a slot. asyncio reads nothing
        from it (`pause_reading` in `connection_made`); uvloop ignores a pause made
        there and reads once - those bytes are kept, in order, for when it is
        admitted, and the pause made now holds. More than `_EARLY_LIMIT` of them
        is refused (503) like any newcomer that cannot wait."""
        transport = self._transport
        if not self._waiting or transport is None:
            return  # refused: it is being closed
        self._early += data
        if len(self._early) > _EARLY_LIMIT:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._slots.stop_waiting(self)
            self._waiting = False
            self._early = b""
            self._refuse(transport)
            return
        reader = _reading(transport)
        if reader is not None:
            reader.pause_reading()

    def _refuse(self, transport: asyncio.BaseTransport) -> None:
        self._on_refused()
        writer = _writing(transport)
        if writer is not None:
            writer.write(self._busy)
        transport.close()

    def request_started(self) -> None:
        if self._idle:
            self._idle = False
            self._slots.became_busy(self)

    def response_finished(self) -> None:
        if not self._idle:
            self._idle = True
            self._tail = b""
            self._slots.became_idle(self)

    def drop(self) -> None:
        """Closed (not aborted): the last response may still be on its way out."""
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            self._held_back(data)
            return
        if self._idle:
            window = self._tail + data
            if _HEAD_END in window:
                self.request_started()
            else:
                self._tail = window[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self._admitted:
            return None
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._slots.stop_waiting(self)
        if not self._admitted:
            return
        self._slots.released(self)
        if self._transport is not None:
            self._registry.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()


# uvloop's transports are not instances of asyncio's transport classes (they only
# have the same methods), so what a transport can do is asked of it by name.


def _reading(transport: asyncio.BaseTransport) -> asyncio.ReadTransport | None:
    return cast(asyncio.ReadTransport, transport) if hasattr(transport, "pause_reading") else None


def _writing(transport: asyncio.BaseTransport) -> asyncio.WriteTransport | None:
    return cast(asyncio.WriteTransport, transport) if hasattr(transport, "write") else None
