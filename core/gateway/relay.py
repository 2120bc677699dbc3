"""Passing an allowed request on to opencode and relaying its answer back.

Nothing is buffered whole:

- the request body is passed on piece by piece as it arrives (and `Expect:
  100-continue` is answered only after the decision, so a denied client never
  uploads);
- the response is relayed piece by piece as opencode sends it, which is what
  makes Server-Sent Events (`/event`, `/global/event`) arrive event by event.

Most answers are small and complete by the time their headers are read. Those
go out in one write, headers and body together with a `Content-Length` (no
chunk framing, no timer): the status line waits for the body only where the
body is already here. An event stream's headers go out at once.

Failures answer with JSON `{"error", "message"}`: 502 when opencode cannot be
reached (or refuses the gateway's credentials), 504 when it is too slow, 408
when the client is too slow sending its body. A relay that has already started
and then fails is cut (the client sees a truncated body, never a complete one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientResponse,
    ClientSession,
    hdrs,
    web,
)
from multidict import CIMultiDict
from yarl import URL

from core.gateway.access_log import note, note_status
from core.gateway.guard import Credentials, error_response
from core.gateway.headers import APP, SafetyHeaders, add_safety, downstream_response_headers
from core.gateway.live import Held, OpenConnections, Revocable
from core.gateway.settings import GatewayConfig
from core.gateway.tickets import MAX_ANSWER, Tickets
from core.gateway.websocket import CREDENTIALS_MESSAGE

SSE = "text/event-stream"
PUBLIC_RULE = "public_file"
"""The access log's rule for a public file passed without credentials (public.py)."""
# Below aiohttp's own write-buffer limit (64 KiB) a write returns without waiting
# for the client, so it needs no timer.
_NO_WAIT_WRITE = 32 * 1024


def seconds(value: float) -> float | None:
    return value if value > 0 else None


class _ClientBody:
    """The client's request body as an async iterator, with a per-piece timeout."""

    def __init__(self, request: web.BaseRequest, timeout: float | None) -> None:
        self._content = request.content
        self._timeout = timeout
        self.timed_out = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    chunk = await self._content.readany()
            except TimeoutError:
                self.timed_out = True
                raise
            if not chunk:
                return
            yield chunk


class _Abort(Exception):
    """Stop relaying a response already started; the reason goes to the access log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Answer(web.StreamResponse):
    """A relayed answer whose status line and headers wait for the first body
    bytes (or the end), so a small answer leaves in one write."""

    _send_headers_immediately = False


class Relay:
    """The gateway's side toward opencode for plain HTTP requests."""

    def __init__(self, config: GatewayConfig, tickets: Tickets, live: OpenConnections) -> None:
        self._base = config.upstream
        self._read_setting = config.timeouts.read
        self._read = seconds(config.timeouts.read)
        self._client_timeout = seconds(config.limits.client_timeout)
        self._tickets = tickets
        self._live = live
        self.session: ClientSession | None = None
        self.streams: set[ClientResponse] = set()
        self.draining = False

    def drain(self) -> None:
        """Shutting down: end the event streams (other requests finish)."""
        self.draining = True
        for upstream in list(self.streams):
            upstream.close()

    async def forward(
        self,
        request: web.BaseRequest,
        url: URL,
        headers: CIMultiDict[str],
        path: str,
        token_id: str | None,
        safety: SafetyHeaders = (),
        remember_ticket_for: Credentials | None = None,
        revocable: Revocable | None = None,
    ) -> web.StreamResponse:
        session = self.session
        if session is None:
            raise RuntimeError("Gateway.start() was not awaited")

        def fail(status: int, reason: str, message: str) -> web.Response:
            note(request, reason, path, token_id)
            return error_response(status, reason, message)

        body = None
        if request.body_exists:
            if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = _ClientBody(request, self._client_timeout)
        try:
            async with asyncio.timeout(self._read):
                upstream = await session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=None if body is None else body.chunks(),
                    allow_redirects=False,
                    compress=None,
                )
        except TimeoutError:
            if body is not None and body.timed_out:
                return fail(408, "client_timeout", "the request body arrived too slowly")
            return fail(
                504, "upstream_timeout", f"opencode did not answer within {self._read_setting:g} s"
            )
        except ClientConnectorError as exc:
            return fail(
                502,
                "upstream_unavailable",
                f"opencode is not reachable at {self._base}: {exc.os_error.strerror or exc}",
            )
        except ClientError as exc:
            if body is not None and body.timed_out:
                return fail(408, "client_timeout", "the request body arrived too slowly")
            return fail(
                502,
                "upstream_unavailable",
                f"opencode closed the connection before answering ({type(exc).__name__})",
            )
        try:
            if upstream.status == 401 and upstream.headers.get(
                hdrs.WWW_AUTHENTICATE, ""
            ).lower().startswith("basic"):
                return fail(502, "upstream_auth_failed", CREDENTIALS_MESSAGE)
            if remember_ticket_for is not None and upstream.status == 200:
                return await self._ticket_answer(request, upstream, remember_ticket_for, safety)
            return await self._relay(request, upstream, path, token_id, safety, revocable)
        finally:
            upstream.release()

    async def public(
        self, request: web.BaseRequest, url: URL, headers: CIMultiDict[str], path: str
    ) -> web.StreamResponse | None:
        """One of opencode's public files (public.py), asked of opencode without
        credentials; None when opencode does not serve it so (or cannot be
        reached): the request is then decided like any other."""
        session = self.session
        if session is None:
            raise RuntimeError("Gateway.start() was not awaited")
        try:
            async with asyncio.timeout(self._read):
                upstream = await session.get(url, headers=headers, allow_redirects=False)
        except (TimeoutError, ClientError):
            return None
        try:
            if upstream.status == 401:
                return None
            note(request, "public", path, rule=PUBLIC_RULE)
            # One answer per connection, as for a refusal: a client without
            # credentials cannot keep a connection slot alive with these.
            return await self._relay(request, upstream, path, None, APP, None, close=True)
        finally:
            upstream.release()

    async def _ticket_answer(
        self,
        request: web.BaseRequest,
        upstream: ClientResponse,
        asked: Credentials,
        safety: SafetyHeaders,
    ) -> web.StreamResponse:
        """A connect-token answer (small JSON): read whole, its ticket remembered."""
        async with asyncio.timeout(self._read):
            answer = await upstream.read()  # opencode's own small JSON
        if len(answer) <= MAX_ANSWER:
            self._tickets.remember(answer, asked)
        response = web.Response(
            status=upstream.status,
            body=answer,
            headers=add_safety(downstream_response_headers(upstream.headers), safety),
        )
        note_status(request, response.status)
        return response

    async def _relay(
        self,
        request: web.BaseRequest,
        upstream: ClientResponse,
        path: str,
        token_id: str | None,
        safety: SafetyHeaders,
        revocable: Revocable | None,
        *,
        close: bool = False,
    ) -> web.StreamResponse:
        stream = upstream.content_type == SSE
        headers = add_safety(downstream_response_headers(upstream.headers), safety)
        response = (web.StreamResponse if stream else _Answer)(
            status=upstream.status, reason=upstream.reason, headers=headers
        )
        length = upstream.content_length
        if (
            length is not None
            and "chunked" not in upstream.headers.get(hdrs.TRANSFER_ENCODING, "").lower()
        ):
            response.content_length = length
        if close:
            response.force_close()
        # An event stream may stay quiet for long: only its client side is timed.
        read_timeout = None if stream else self._read
        held: Held | None = None
        if stream:
            self.streams.add(upstream)
            if revocable is not None:
                held = revocable.hold(_end_stream(upstream))
        body = upstream.content
        try:
            try:
                pending = body.read_nowait()
            except ClientError:
                pending = b""  # the loop below meets the same error and reports it
            if body.at_eof() and not stream:
                # The whole body is already here: headers and body in one write,
                # with a Content-Length instead of chunk framing.
                if response.content_length is None and request.method != hdrs.METH_HEAD:
                    response.content_length = len(pending)
                await response.prepare(request)
                note_status(request, response.status)
                await response.write_eof(pending)
                return response
            await response.prepare(request)
            note_status(request, response.status)
            while True:
                # Timers cost more than the rest of a small response: take what is
                # already buffered without one, and time only real waits.
                try:
                    chunk, pending = (pending, b"") if pending else (body.read_nowait(), b"")
                    if not chunk and not body.at_eof():
                        async with asyncio.timeout(read_timeout):
                            chunk = await body.readany()
                except TimeoutError:
                    raise _Abort("upstream_timeout") from None
                except ClientError:
                    if stream and (self.draining or (held is not None and held.ended)):
                        break
                    raise _Abort("upstream_aborted") from None
                if not chunk:
                    break
                transport = request.transport
                if (
                    transport is not None
                    and transport.get_write_buffer_size() + len(chunk) < _NO_WAIT_WRITE
                ):
                    await response.write(chunk)  # fits in the buffers: cannot block
                else:
                    try:
                        async with asyncio.timeout(self._client_timeout):
                            await response.write(chunk)
                    except TimeoutError:
                        raise _Abort("client_timeout") from None
            if held is not None and held.ended:
                note(request, "revoked", path, token_id)
                response.force_close()
            await response.write_eof()
        except _Abort as abort:
            note(request, abort.reason, path, token_id)
            if request.transport is not None:
                request.transport.close()  # the client sees a truncated, not a complete, body
        except (ConnectionError, ClientError):
            note(request, "client_gone", path, token_id)
        finally:
            self.streams.discard(upstream)
            if held is not None:
                self._live.release(held)
        return response


def _end_stream(upstream: ClientResponse) -> Callable[[str], Awaitable[None]]:
    """Ending an event stream: its upstream side is closed, the relay loop meets
    the end, and the client's stream is ended (the relay logs `revoked`)."""

    async def end(why: str) -> None:
        upstream.close()

    return end
