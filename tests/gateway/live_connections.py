"""An event stream and a terminal held open through the gateway, and how long they
outlive a change to their token (shared by the file and PostgreSQL tests and by
benchmarks/revocation_bench.py).

`open_both` opens `GET /event` and a terminal (`POST /pty`, then the WebSocket
`/pty/{id}/connect`, with the token's own credentials or with a PTY ticket it
asked for) against the real opencode behind a gateway, and proves both work.
`Watch` then notes, from the moment it starts, when the stream ends and when the
WebSocket closes (and with which code and reason).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

PTY_BODY = {"command": "/bin/sh"}


@dataclass
class Opened:
    events: aiohttp.ClientResponse
    ws: aiohttp.ClientWebSocketResponse
    pty: str


async def read_output(ws: aiohttp.ClientWebSocketResponse, wanted: str, limit: float = 10) -> str:
    seen = ""
    deadline = time.monotonic() + limit
    while wanted not in seen:
        msg = await asyncio.wait_for(ws.receive(), max(0.1, deadline - time.monotonic()))
        if msg.type is aiohttp.WSMsgType.TEXT:
            seen += msg.data
        elif msg.type is aiohttp.WSMsgType.BINARY:
            seen += msg.data.decode("latin-1")
        else:
            raise AssertionError(f"the terminal closed before {wanted!r}: {msg}")
    return seen


async def open_both(
    session: aiohttp.ClientSession, url: str, secret: str, *, ticket: bool = False
) -> Opened:
    bearer = {"Authorization": f"Bearer {secret}"}
    events = await session.get(f"{url}/event", headers=bearer)
    assert events.status == 200, await events.text()
    first = await asyncio.wait_for(events.content.readuntil(b"\n\n"), 10)
    assert b"server.connected" in first
    async with session.post(f"{url}/pty", json=PTY_BODY, headers=bearer) as created:
        assert created.status == 200, await created.text()
        pty = str((await created.json())["id"])
    if ticket:  # the web app's way: a ticket, and no credentials on the WebSocket
        async with session.post(
            f"{url}/pty/{pty}/connect-token", headers={**bearer, "x-opencode-ticket": "1"}
        ) as asked:
            assert asked.status == 200, await asked.text()
            issued = (await asked.json())["ticket"]
        ws = await session.ws_connect(f"{url}/pty/{pty}/connect?ticket={issued}")
    else:
        ws = await session.ws_connect(f"{url}/pty/{pty}/connect", headers=bearer)
    await ws.send_str("echo live-$((6*7))\n")
    await read_output(ws, "live-42")
    return Opened(events, ws, pty)


@dataclass
class Watch:
    """When an opened stream and terminal end, from `started` (monotonic)."""

    opened: Opened
    started: float = field(default_factory=time.monotonic)
    stream_ended: float | None = None
    socket_closed: float | None = None
    close_code: int | None = None
    close_reason: str = ""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> Watch:
        self.started = time.monotonic()
        self._tasks = [
            asyncio.ensure_future(self._stream()),
            asyncio.ensure_future(self._socket()),
        ]
        return self

    async def _stream(self) -> None:
        try:
            while await self.opened.events.content.readany():
                pass
        except aiohttp.ClientError:
            pass
        self.stream_ended = time.monotonic() - self.started

    async def _socket(self) -> None:
        while True:
            msg = await self.opened.ws.receive()
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                break
        self.socket_closed = time.monotonic() - self.started
        self.close_code = self.opened.ws.close_code
        self.close_reason = str(msg.extra or "")

    async def both(self, limit: float) -> tuple[float, float]:
        """Wait (at most `limit` s) for both to end; their times."""
        _, pending = await asyncio.wait(self._tasks, timeout=limit)
        for task in pending:
            task.cancel()
        assert self.stream_ended is not None, f"the event stream was still open after {limit} s"
        assert self.socket_closed is not None, f"the terminal was still open after {limit} s"
        return self.stream_ended, self.socket_closed

    async def still_open(self, wait: float) -> bool:
        """Neither ended within `wait` seconds."""
        await asyncio.sleep(wait)
        return self.stream_ended is None and self.socket_closed is None

    async def stop(self) -> None:
        """Stop watching (the stream and terminal can be read again)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def close_quietly(opened: Opened) -> None:
    opened.events.close()
    await opened.ws.close()
