"""WebSocket upgrades (`/pty/{id}/connect`), relayed message by message both ways.

The upstream handshake is made first, so a refusal from opencode (an unknown PTY,
404) reaches the client as a plain HTTP answer instead of a socket that opens and
dies. The client's `Sec-WebSocket-Protocol` is answered by the gateway: the
protocol opencode chose if any, else `bearer` when the client authenticated
that way (a browser fails the handshake unless one it offered is echoed). The
`bearer` entry and the token after it are never sent upstream.

An open bridge is held in the gateway's `OpenConnections` (live.py): when its
token no longer passes (deleted, expired, permissions or directories edited),
both sides are closed, the client's with 1008 (policy violation) and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientSession,
    ClientWebSocketResponse,
    ClientWSTimeout,
    WSCloseCode,
    WSMsgType,
    WSServerHandshakeError,
    web,
)
from multidict import CIMultiDict
from yarl import URL

from core.gateway.access_log import note, note_status, noted
from core.gateway.guard import Subprotocols, error_response
from core.gateway.live import Revocable

MAX_MESSAGE = 16 * 1024 * 1024
_EITHER = web.WebSocketResponse | ClientWebSocketResponse


@dataclass
class OpenSockets:
    """Bridges in progress, so shutdown can close them (1001 going away)."""

    pairs: set[tuple[web.WebSocketResponse, ClientWebSocketResponse]] = field(default_factory=set)

    async def close_all(self) -> None:
        pairs = list(self.pairs)
        await asyncio.gather(
            *(
                side.close(code=WSCloseCode.GOING_AWAY, message=b"gateway shutting down")
                for pair in pairs
                for side in pair
            ),
            return_exceptions=True,
        )


class UpstreamRefused(Exception):
    def __init__(self, response: web.Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


async def _connect_upstream(
    session: ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    protocols: tuple[str, ...],
    *,
    connect_wait: float | None,
    heartbeat: float | None,
) -> ClientWebSocketResponse:
    try:
        async with asyncio.timeout(connect_wait):
            return await session.ws_connect(
                url,
                headers=headers,
                protocols=protocols,
                autoclose=False,
                autoping=True,
                heartbeat=heartbeat,
                max_msg_size=MAX_MESSAGE,
                compress=0,
                timeout=ClientWSTimeout(ws_receive=None, ws_close=10.0),
            )
    except WSServerHandshakeError as exc:
        if exc.status == 401:
            raise UpstreamRefused(
                error_response(502, "upstream_auth_failed", CREDENTIALS_MESSAGE),
                "upstream_auth_failed",
            ) from None
        status = exc.status if 400 <= exc.status < 600 else 502
        raise UpstreamRefused(
            error_response(
                status,
                "upstream_refused_websocket",
                f"opencode refused the WebSocket connection ({exc.status} {exc.message})",
            ),
            "upstream_refused_websocket",
        ) from None
    except TimeoutError:
        raise UpstreamRefused(
            error_response(
                504, "upstream_timeout", "opencode did not complete the WebSocket handshake in time"
            ),
            "upstream_timeout",
        ) from None
    except ClientConnectorError as exc:
        raise UpstreamRefused(
            error_response(
                502, "upstream_unavailable", f"opencode is not reachable: {exc.os_error}"
            ),
            "upstream_unavailable",
        ) from None
    except ClientError as exc:
        raise UpstreamRefused(
            error_response(
                502,
                "upstream_unavailable",
                f"opencode failed the WebSocket handshake: {type(exc).__name__}",
            ),
            "upstream_unavailable",
        ) from None


CREDENTIALS_MESSAGE = (
    "opencode refused the gateway's credentials: start the gateway with "
    "OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME) set as for opencode"
)


async def _pump(source: _EITHER, sink: _EITHER) -> None:
    """Copy messages until `source` closes; pass its close code on to `sink`."""
    while True:
        msg = await source.receive()
        if msg.type is WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type is WSMsgType.CLOSE:
            code = msg.data if isinstance(msg.data, int) else WSCloseCode.OK
            await sink.close(code=code, message=(msg.extra or "").encode()[:120])
            return
        elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            await sink.close(code=WSCloseCode.GOING_AWAY)
            return
        # PING/PONG are answered by each side itself (autoping)


async def bridge(
    request: web.BaseRequest,
    *,
    session: ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    subprotocols: Subprotocols,
    connect_wait: float | None,
    heartbeat: float | None,
    registry: OpenSockets,
    revocable: Revocable | None = None,
) -> tuple[web.StreamResponse, str | None]:
    """Answer a WebSocket handshake; returns the response and a failure reason (or None)."""
    # The probe knows every protocol the client offered, so aiohttp never logs
    # "protocols don't overlap" with the list - which holds the token.
    offered = (subprotocols.bearer,) if subprotocols.bearer else ()
    probe = web.WebSocketResponse(protocols=offered + subprotocols.others)
    if not probe.can_prepare(request).ok:
        return (
            error_response(400, "bad_websocket_handshake", "not a valid WebSocket handshake"),
            "bad_websocket_handshake",
        )
    try:
        upstream = await _connect_upstream(
            session,
            url,
            headers,
            subprotocols.others,
            connect_wait=connect_wait,
            heartbeat=heartbeat,
        )
    except UpstreamRefused as refused:
        return refused.response, refused.reason

    if upstream.protocol:
        ours: tuple[str, ...] = (upstream.protocol,)
    elif subprotocols.bearer is not None:
        ours = (subprotocols.bearer,)
    else:
        ours = ()
    client = web.WebSocketResponse(
        protocols=ours, autoclose=False, heartbeat=heartbeat, max_msg_size=MAX_MESSAGE
    )
    pair = (client, upstream)
    try:
        await client.prepare(request)
    except BaseException:
        await upstream.close()
        raise
    note_status(request, 101)
    registry.pairs.add(pair)
    # One task per direction, nothing else: a revocation cancels both (no task
    # waits on an event for it). No await lies between starting them and
    # holding the bridge, so `end` always finds them.
    tasks = [
        asyncio.ensure_future(_pump(client, upstream)),
        asyncio.ensure_future(_pump(upstream, client)),
    ]

    async def end(why: str) -> None:
        for task in tasks:
            task.cancel()

    held = None if revocable is None else revocable.hold(end)
    try:
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if held is not None and held.ended is not None:
            outcome = noted(request)
            if outcome is not None:
                note(request, "revoked", outcome.path, outcome.token_id)
            with contextlib.suppress(Exception):
                await upstream.close()
            with contextlib.suppress(Exception):
                await client.close(
                    code=WSCloseCode.POLICY_VIOLATION, message=close_reason(held.ended)
                )
    finally:
        if held is not None and revocable is not None:
            revocable.registry.release(held)
        registry.pairs.discard(pair)
        with contextlib.suppress(Exception):
            await upstream.close()
        with contextlib.suppress(Exception):
            await client.close()
    return client, None


def close_reason(why: str) -> bytes:
    """A WebSocket close reason: at most 123 bytes of UTF-8, cut on a character."""
    return why.encode()[:120].decode(errors="ignore").encode()
