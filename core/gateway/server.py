"""Listening, limits and shutdown, shared by the gateway and forward-auth.

aiohttp's low-level `web.Server` (no router, no middleware: the service handles
every request itself), on a socket this module opens, so it can

- cap the number of open connections (`max_connections`) and give each client
  address a share (`max_connections_per_client`); when either is reached, the
  connection idle the longest - no request in progress: never used, a request
  head still arriving, or kept alive after a response - is closed to make room
  once it has been idle half a second. A newcomer over the cap waits up to that
  long for a slot (one given back, or one of an idle connection grown old
  enough); only then, or at once when its client is at its share with nothing
  of its own to drop, is it answered 503 and closed, before any parsing
  (connections.py). A request in progress, an event stream or a WebSocket is
  never cut for room;
- close the connection after every 400 or 401 answer (`Connection: close`): a
  client without a valid token gets one answer per connection, so it cannot
  hold slots with keep-alive connections it refreshes with refused requests;
- bound request heads: each header line and field to `max_field_size`, the count
  to `max_headers` (aiohttp answers 400 itself, and closes), and the time to
  `header_timeout` - aiohttp closes a connection whose request head has not
  fully arrived that long after the connection opened or the previous response
  ended, which is also how long an idle keep-alive connection lives; a
  slowloris client trickling header bytes is cut off by the same clock;
- stop gracefully: stop accepting, end event streams and WebSockets, let
  in-flight requests finish (up to `shutdown_timeout`), close idle connections,
  then flush `last_used_at`.

Every request passes through `Listener._handle` (the request starts: its
connection is busy; a 400 or 401 closes it), and aiohttp's access logger is
always installed, because it is what aiohttp calls once a response has been
written out (its connection is idle again); it writes an access-log line only
when one is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
import traceback
from collections.abc import Callable
from typing import Protocol

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from core.gateway.access_log import AccessLog, log_cancelled, logger_class
from core.gateway.connections import Slots, Tracked
from core.gateway.eventloop import settle
from core.gateway.guard import Guard
from core.gateway.settings import DEFAULT_LIMITS, Limits, ListenAddress
from core.model.clock import Clock, system_clock
from core.model.errors import StoreError

_BUSY_BODY = b'{"error":"too_many_connections","message":"the server is at its connection limit"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


_CLOSE_AFTER = frozenset({400, 401})
"""Statuses after which the connection is closed: a malformed request or no
valid credentials - nothing a keep-alive connection is worth keeping for."""


class _QuietServerLog(logging.Handler):
    """aiohttp's server log, made safe: a malformed request (an oversized header,
    a bad request line) is not logged - the access log has its 400 - because
    aiohttp's message quotes the offending line, which may be an Authorization
    header; anything else (a bug) is reported with its type and traceback."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._warn = warn

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            return
        if exc is None:
            self._warn(f"server: {record.levelname.lower()}: {record.msg}")
            return
        trace = "".join(traceback.format_exception(exc)).rstrip()
        self._warn(f"internal error while handling a request (answered 500):\n{trace}")


def _server_logger(warn: Callable[[str], None]) -> logging.Logger:
    logger = logging.Logger("opencode_auth_tui.server")  # private, not in the registry
    logger.propagate = False
    logger.addHandler(_QuietServerLog(warn))
    return logger


class _NoWebSocketChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False  # protocol-negotiation notes quote the client's offered protocols


logging.getLogger("aiohttp.websocket").addFilter(_NoWebSocketChatter())


class _NoAccessLog:
    """Stands in for the access log when there is none, so that aiohttp still
    calls the logger (`_finish_logger`) after every response."""

    def write(self, line: str) -> None:
        pass

    def flush(self) -> None:
        pass


def _finish_logger(
    tracked: dict[asyncio.BaseTransport, Tracked],
    lines: type[AbstractAccessLogger] | None,
) -> type[AbstractAccessLogger]:
    """aiohttp's access-logger class: called once a response has been written out
    (one instance per connection), it marks the connection idle, then writes the
    access-log line with `lines` (None: no access log)."""

    class FinishLogger(AbstractAccessLogger):
        def __init__(self, logger: logging.Logger, log_format: str) -> None:
            super().__init__(logger, log_format)
            self._lines = lines(logger, log_format) if lines is not None else None

        @property
        def enabled(self) -> bool:
            return True

        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            transport = request.transport
            conn = tracked.get(transport) if transport is not None else None
            if conn is not None:
                conn.response_finished()
            if self._lines is not None:
                self._lines.log(request, response, time)

    return FinishLogger


class Service(Protocol):
    service: str
    guard: Guard

    async def start(self) -> None: ...
    async def drain(self) -> None: ...
    async def close(self) -> None: ...
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse: ...


class Listener:
    def __init__(
        self,
        service: Service,
        listen: ListenAddress,
        *,
        limits: Limits = DEFAULT_LIMITS,
        ssl_context: ssl.SSLContext | None = None,
        access_log: AccessLog | None = None,
        warn: Callable[[str], None] = lambda message: None,
        clock: Clock = system_clock,
    ) -> None:
        self.service = service
        self.listen = listen
        self.limits = limits
        self.ssl_context = ssl_context
        self._access_log = access_log
        self._warn = warn
        self._clock = clock
        self._web: web.Server | None = None
        self._server: asyncio.Server | None = None
        self._last_busy_warning = 0.0
        self._port: int | None = None
        self.slots = Slots(limits.max_connections, limits.max_connections_per_client)
        self._tracked: dict[asyncio.BaseTransport, Tracked] = {}  # admitted, by transport

    async def start(self) -> None:
        await self.service.start()
        # The store is read before the port opens, so the first request is decided
        # at once (100k tokens take about a second to read); a store that cannot be
        # read is no reason not to start: every request gets its 503 and reason.
        with contextlib.suppress(StoreError):
            await self.service.guard.authorizer.fresh_index()
        limits = self.limits
        lines = (
            logger_class(self.service.service, self._clock)
            if self._access_log is not None
            else None
        )
        self._web = web.Server(
            self._handle,
            handler_cancellation=True,  # a client gone away cancels its upstream request
            access_log_class=_finish_logger(self._tracked, lines),
            # duck-typed: aiohttp only hands it to the logger class
            access_log=self._access_log if self._access_log is not None else _NoAccessLog(),
            logger=_server_logger(self._warn),
            keepalive_timeout=limits.header_timeout,
            max_line_size=limits.max_line_size,
            max_field_size=limits.max_field_size,
            max_headers=limits.max_headers,
        )
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._protocol,
                self.listen.host,
                self.listen.port,
                ssl=self.ssl_context,
                ssl_handshake_timeout=limits.header_timeout if self.ssl_context else None,
                backlog=1024,
                reuse_address=True,
            )
        except BaseException:
            await self.service.close()
            raise
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        transport = request.transport
        conn = self._tracked.get(transport) if transport is not None else None
        if conn is not None:
            conn.request_started()  # a pipelined request, parsed while the last was busy
        started = time.monotonic()
        try:
            response = await self.service.handle(request)
        except asyncio.CancelledError:
            if self._access_log is not None:
                log_cancelled(
                    self._access_log,
                    self.service.service,
                    request,
                    time.monotonic() - started,
                    self._clock,
                )
            raise
        if response.status in _CLOSE_AFTER:
            response.force_close()
        return response

    def _protocol(self) -> asyncio.BaseProtocol:
        assert self._web is not None
        return Tracked(self._web(), self.slots, _BUSY, self._refused, self._tracked)

    def _refused(self) -> None:
        now = time.monotonic()
        if now - self._last_busy_warning > 10:
            self._last_busy_warning = now
            share = self.limits.max_connections_per_client
            self._warn(
                f"connection limit reached ({self.limits.max_connections} in all"
                + (f", {share} per client address" if share else "")
                + "); refusing new connections with 503"
            )

    @property
    def port(self) -> int:
        """The port bound (the real one when 0 was asked for)."""
        if self._port is None:
            raise RuntimeError("the listener has not started")
        return self._port

    @property
    def url(self) -> str:
        return ListenAddress(self.listen.host, self.port).url(tls=self.ssl_context is not None)

    @property
    def open_connections(self) -> int:
        return len(self.slots)

    async def stop(self) -> None:
        """Graceful: no new connections; streams ended; in-flight requests finish."""
        if self._server is not None:
            self._server.close()
        try:
            await self.service.drain()
            if self._web is not None:
                self._web.pre_shutdown()
                await self._web.shutdown(self.limits.shutdown_timeout)
            if self._server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 1.0)
        finally:
            self._server = None
            await self.service.close()
            if self._access_log is not None:
                self._access_log.flush()


async def serve_until_signal(
    listener: Listener, announce: Callable[[str], None], *, ready: Callable[[], None] | None = None
) -> int:
    """Run until SIGTERM or SIGINT, then stop gracefully; a second signal stops at once."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    seen = 0

    def on_signal(name: str) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            stop.set()  # first: whatever announcing does, the server stops
            with contextlib.suppress(Exception):
                announce(
                    f"{name}: finishing in-flight requests "
                    f"(up to {listener.limits.shutdown_timeout:g} s); send it again to stop now"
                )
        elif main is not None:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        await listener.start()
        if ready is not None:
            ready()
        settle()
        await stop.wait()
        await listener.stop()
    except asyncio.CancelledError:
        announce("stopped without waiting for in-flight requests")
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    announce("stopped")
    return 0
