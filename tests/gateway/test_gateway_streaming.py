"""Nothing is buffered whole: request bodies, response bodies, Server-Sent Events
and WebSockets flow through the gateway as they are produced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.gateway.conftest import Tokens, gateway_harness


async def test_a_large_upload_reaches_opencode_before_the_client_has_finished(
    tokens: Tokens,
) -> None:
    async with gateway_harness(tokens) as h:

        async def body() -> AsyncIterator[bytes]:
            yield b"x" * 65536
            # Only continue once opencode has the first piece: a gateway that
            # buffered the body would never deliver it, and this would time out.
            await asyncio.wait_for(h.upstream.first_chunk.wait(), 5)
            for _ in range(63):
                yield b"y" * 65536

        async with h.client.post(f"{h.url}/upload", data=body(), headers=h.bearer("rwx")) as resp:
            assert resp.status == 200
            assert (await resp.json())["received"] == 64 * 65536
        assert h.upstream.upload_total == 64 * 65536
        assert "transfer-encoding" in h.upstream.last().headers


async def test_content_length_of_an_upload_is_kept(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.post(
            f"{h.url}/upload", data=b"z" * 300_000, headers=h.bearer("rwx")
        ) as resp:
            assert (await resp.json())["received"] == 300_000
        assert h.upstream.last().headers["content-length"] == ["300000"]


async def test_expect_100_continue_is_answered_only_after_the_decision(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.read(200), 5)
        assert head.startswith(b"HTTP/1.1 401"), head  # no "100 Continue": nothing uploaded
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
        secret = h.tokens.secrets["rwx"]
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Authorization: Bearer " + secret.encode() + b"\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        writer.write(b"hello")
        rest = await asyncio.wait_for(reader.read(), 5)
        assert rest.startswith(b"HTTP/1.1 200") and b'"received": 5' in rest
        writer.close()


async def test_a_response_is_relayed_before_opencode_has_finished_it(tokens: Tokens) -> None:
    async with (
        gateway_harness(tokens) as h,
        h.client.get(f"{h.url}/download", headers=h.bearer("rwx")) as resp,
    ):
        first = await asyncio.wait_for(resp.content.readexactly(65536), 5)
        assert first == b"a" * 65536
        h.upstream.release.set()
        rest = await resp.read()
        assert rest == b"b" * 65536


@pytest.mark.parametrize("path", ["/event", "/global/event"])
async def test_server_sent_events_arrive_one_by_one(tokens: Tokens, path: str) -> None:
    async with (
        gateway_harness(tokens) as h,
        h.client.get(f"{h.url}{path}", headers=h.bearer("rx")) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        assert b"server.connected" in first
        released = time.monotonic()
        h.upstream.release.set()
        second = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        assert b"second" in second
        assert time.monotonic() - released < 1.0


async def test_websocket_both_ways_with_the_subprotocol_token(tokens: Tokens) -> None:
    secret = tokens.secrets["rwx"]
    async with gateway_harness(tokens) as h:
        async with h.client.ws_connect(
            f"{h.url}/pty/pty_1/connect?cursor=0", protocols=("bearer", secret)
        ) as ws:
            assert ws.protocol == "bearer"
            greeting = await asyncio.wait_for(ws.receive(), 5)  # upstream -> client first
            assert greeting.type is aiohttp.WSMsgType.BINARY and greeting.data.startswith(b"\x00")
            await ws.send_str("ls\n")
            reply = await asyncio.wait_for(ws.receive(), 5)
            assert reply.data == "echo:ls\n"
            await ws.send_bytes(b"\x01\x02")
            assert (await asyncio.wait_for(ws.receive(), 5)).data == b"\x01\x02"
        seen = h.upstream.ws_headers[-1]
        assert secret not in repr(seen)
        assert "sec-websocket-protocol" not in seen
        assert seen["authorization"][0].startswith("Basic ")
    log = "\n".join(h.access.lines)
    assert secret not in log and "/pty/pty_1/connect" in log


async def test_websocket_close_code_from_opencode_reaches_the_client(tokens: Tokens) -> None:
    async with (
        gateway_harness(tokens) as h,
        h.client.ws_connect(f"{h.url}/pty/pty_1/connect", headers=h.bearer("rwx")) as ws,
    ):
        await ws.receive()
        await ws.send_str("close-please")
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 4001


@pytest.mark.parametrize(
    ("protocols", "query", "status"),
    [
        ((), "", 401),
        (("bearer",), "", 401),
        (("bearer", "ocat_notarealtoken"), "", 401),
        ((), "?token=TOKEN", 401),
        ((), "?access_token=TOKEN", 401),
        (("bearer", "TOKEN_R"), "", 403),  # read only: /pty needs execute too
    ],
)
async def test_websocket_denials(
    tokens: Tokens, protocols: tuple[str, ...], query: str, status: int
) -> None:
    fill = {"TOKEN": tokens.secrets["rwx"], "TOKEN_R": tokens.secrets["r"]}
    protocols = tuple(fill.get(p, p) for p in protocols)
    query = query.replace("TOKEN", tokens.secrets["rwx"])
    async with gateway_harness(tokens) as h:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await h.client.ws_connect(f"{h.url}/pty/pty_1/connect{query}", protocols=protocols)
        assert err.value.status == status
        assert h.upstream.ws_headers == []
