"""Abuse and failure: the gateway stays up and keeps answering good requests."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time

import aiohttp
import pytest

from core.gateway.settings import Limits, Timeouts
from tests.gateway.conftest import Tokens, bad_checksum, gateway_harness
from tests.gateway.slot_attack import read_response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def good_request_works(h) -> None:  # type: ignore[no-untyped-def]
    async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
        assert resp.status == 200


async def test_oversized_headers_get_400_and_do_not_hurt_others(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with aiohttp.ClientSession() as other:
            async with other.get(
                f"{h.url}/vcs", headers={**h.bearer("r"), "X-Big": "a" * 9000}
            ) as resp:
                assert resp.status == 400
            many = {f"X-H{i}": "v" for i in range(150)}
            async with other.get(f"{h.url}/vcs", headers={**h.bearer("r"), **many}) as resp:
                assert resp.status == 400
            async with other.get(f"{h.url}/vcs?{'q' * 9000}", headers=h.bearer("r")) as resp:
                assert resp.status == 400
        await good_request_works(h)
        assert h.upstream.seen[-1].raw_path == "/vcs"
        assert len(h.upstream.seen) == 1


async def test_an_oversized_authorization_header_is_not_echoed_into_any_log(
    tokens: Tokens,
) -> None:
    async with gateway_harness(tokens) as h:
        secretish = "ocat_" + "S" * 9000
        async with h.client.get(
            f"{h.url}/vcs", headers={"Authorization": f"Bearer {secretish}"}
        ) as resp:
            assert resp.status == 400
    everything = "\n".join(h.access.lines + h.warnings)
    assert "SSSS" not in everything


async def test_slowloris_connections_are_cut_and_good_requests_still_served(
    tokens: Tokens,
) -> None:
    limits = Limits(header_timeout=1.0, client_timeout=5.0, shutdown_timeout=2.0)
    async with gateway_harness(tokens, limits=limits) as h:
        slow = []
        for _ in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
            writer.write(b"GET /vcs HTTP/1.1\r\nHost: x\r\n")
            slow.append((reader, writer))

        async def trickle() -> None:
            for _ in range(10):  # one header byte every 0.2 s, never finishing
                for _, writer in slow:
                    if not writer.is_closing():
                        writer.write(b"X")
                await asyncio.sleep(0.2)

        trickler = asyncio.ensure_future(trickle())
        started = time.monotonic()
        for _ in range(5):
            await good_request_works(h)
        for reader, _ in slow:
            data = await asyncio.wait_for(reader.read(), 5)  # EOF: the gateway hung up
            assert b"200" not in data
        assert time.monotonic() - started < 3.5
        trickler.cancel()
        for _, writer in slow:
            writer.close()
        await good_request_works(h)


async def test_a_client_sending_its_body_too_slowly_gets_408(tokens: Tokens) -> None:
    limits = Limits(header_timeout=5.0, client_timeout=0.5, shutdown_timeout=2.0)
    async with gateway_harness(tokens, limits=limits) as h:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
        secret = tokens.secrets["rwx"]
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
            b"Authorization: Bearer " + secret.encode() + b"\r\n\r\n" + b"0123456789"
        )
        head = await asyncio.wait_for(reader.read(200), 5)
        assert head.startswith(b"HTTP/1.1 408"), head
        writer.close()
        await good_request_works(h)


async def test_a_flood_of_bad_tokens_does_not_block_good_requests(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        bad = [
            {"Authorization": "Bearer " + bad_checksum(tokens.secrets["rwx"])},
            {"Authorization": "Bearer ocat_" + "A" * 28},
            {"Authorization": "Bearer " + "x" * 4000},
            {"Authorization": "Bearer ocat_0000000000000000000000000000"},
        ]
        stop = asyncio.Event()
        denied = 0

        async def flood(i: int) -> None:
            nonlocal denied
            async with aiohttp.ClientSession() as s:
                for _ in range(400):  # bounded
                    if stop.is_set():
                        return
                    async with s.get(f"{h.url}/session", headers=bad[i % len(bad)]) as resp:
                        assert resp.status == 401
                        denied += 1

        flooders = [asyncio.ensure_future(flood(i)) for i in range(16)]
        await asyncio.sleep(0.2)
        latencies = []
        for _ in range(30):
            t = time.perf_counter()
            await good_request_works(h)
            latencies.append(time.perf_counter() - t)
        stop.set()
        await asyncio.gather(*flooders)
        assert denied > 100
        assert statistics.median(latencies) < 0.25, latencies
        assert len([s for s in h.upstream.seen if s.raw_path == "/vcs"]) == 30


async def test_opencode_down_is_a_clear_502(tokens: Tokens) -> None:
    port = free_port()
    async with gateway_harness(tokens, upstream_url=f"http://127.0.0.1:{port}") as h:
        # a route that uses no directory (/project now does: issue 16, item 5)
        async with h.client.get(f"{h.url}/api/health", headers=h.bearer("r")) as resp:
            assert resp.status == 502
            body = await resp.json()
            assert body["error"] == "upstream_unavailable"
            assert f"127.0.0.1:{port}" in body["message"]
        # what needs opencode's directory waits until the gateway has learned it
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 503
            body = await resp.json()
            assert body["error"] == "directory_unknown"
            assert "not yet learned" in body["message"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as failed:
            await h.client.ws_connect(f"{h.url}/pty/p/connect", headers=h.bearer("rwx"))
        assert failed.value.status == 503
        # a denial is still a denial, not a 502
        async with h.client.get(f"{h.url}/vcs") as resp:
            assert resp.status == 401


async def test_opencode_too_slow_is_504_and_others_still_served(tokens: Tokens) -> None:
    timeouts = Timeouts(connect=2.0, read=0.3)
    async with gateway_harness(tokens, timeouts=timeouts) as h:
        slow = asyncio.ensure_future(h.client.get(f"{h.url}/slow?s=2", headers=h.bearer("rwx")))
        await good_request_works(h)
        resp = await slow
        assert resp.status == 504
        body = await resp.json()
        assert body["error"] == "upstream_timeout" and "0.3" in body["message"]
        resp.release()
        await good_request_works(h)


async def _event_stream(h, name: str = "rx"):  # type: ignore[no-untyped-def]
    """A request in progress: an event stream through the gateway, first event read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
    writer.write(
        f"GET /event HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {h.tokens.secrets[name]}\r\n\r\n".encode()
    )
    await asyncio.wait_for(reader.readuntil(b"server.connected"), 5)
    return reader, writer


async def test_the_connection_limit_answers_503_and_recovers(tokens: Tokens) -> None:
    """503 once every slot has a request in progress (nothing idle to drop)."""
    limits = Limits(header_timeout=5.0, client_timeout=5.0, shutdown_timeout=2.0, max_connections=4)
    async with gateway_harness(tokens, limits=limits) as h:
        await h.client.close()
        busy = [await _event_stream(h) for _ in range(4)]
        reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
        data = await asyncio.wait_for(reader.read(), 5)  # after waiting up to 0.5 s for room
        assert data.startswith(b"HTTP/1.1 503")
        assert b"too_many_connections" in data
        writer.close()
        assert any("connection limit" in w for w in h.warnings)
        assert h.listener.slots.evicted == 0
        for _, w in busy:
            w.close()
        await asyncio.sleep(0.2)
        async with (
            aiohttp.ClientSession() as fresh,
            fresh.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp,
        ):
            assert resp.status == 200


async def _good_request(h, local: str = "127.0.0.1") -> int:  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", h.listener.port, local_addr=(local, 0)
    )
    secret = h.tokens.secrets["r"]
    writer.write(
        f"GET /vcs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return int(head.split(b" ", 2)[1])


async def _half_open(h, count: int, local: str) -> list[asyncio.StreamWriter]:  # type: ignore[no-untyped-def]
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection(
            "127.0.0.1", h.listener.port, local_addr=(local, 0)
        )
        writer.write(b"GET /vcs HTTP/1.1\r\nHost: x\r\n")  # never finished
        writers.append(writer)
    await asyncio.sleep(0.1)
    return writers


async def test_one_client_address_gets_only_its_share(tokens: Tokens) -> None:
    limits = Limits(
        header_timeout=30.0, shutdown_timeout=2.0, max_connections=64, max_connections_per_client=8
    )
    async with gateway_harness(tokens, limits=limits) as h:
        await h.client.close()
        attacker = await _half_open(h, 20, "127.0.0.2")
        # at most its share stays open; the rest is answered 503 and closed
        assert h.listener.open_connections <= 8
        assert any("8 per client address" in w for w in h.warnings)
        # everyone else is served at once
        for _ in range(5):
            assert await _good_request(h) == 200
        for writer in attacker:
            writer.close()


async def test_half_sent_requests_make_room_for_real_ones(tokens: Tokens) -> None:
    """No share at all (a proxy in front): one client holds every slot with
    requests it never finishes; once they are a second old, each new client
    takes the slot of the oldest of them instead of getting 503."""
    limits = Limits(
        header_timeout=30.0, shutdown_timeout=2.0, max_connections=16, max_connections_per_client=0
    )
    async with gateway_harness(tokens, limits=limits) as h:
        await h.client.close()
        attacker = await _half_open(h, 16, "127.0.0.2")
        assert h.listener.open_connections == 16
        await asyncio.sleep(1.1)
        statuses = [await _good_request(h) for _ in range(10)]
        assert statuses == [200] * 10
        assert h.listener.slots.evicted >= 1  # a slot freed by a finished request is reused
        for writer in attacker:
            writer.close()


async def test_idle_keep_alive_connections_make_room_busy_ones_never(tokens: Tokens) -> None:
    """A connection kept alive after its response holds a slot for nothing:
    once idle half a second it makes room, like one that never sent a head.
    One with a request in progress (an event stream) is never dropped."""
    limits = Limits(
        header_timeout=30.0, shutdown_timeout=2.0, max_connections=4, max_connections_per_client=0
    )
    async with gateway_harness(tokens, limits=limits) as h:
        await h.client.close()
        stream, stream_writer = await _event_stream(h)
        kept = []
        for _ in range(3):  # keep-alive connections, each after one complete request
            reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
            secret = tokens.secrets["r"]
            writer.write(
                f"GET /vcs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n\r\n".encode()
            )
            answer = await asyncio.wait_for(read_response(reader), 5)
            assert answer is not None and answer[0] == 200
            kept.append((reader, writer))
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.6)
        statuses = [await _good_request(h) for _ in range(4)]
        assert statuses == [200] * 4
        # one dropped, the oldest idle; the slot it freed served the rest in turn
        assert h.listener.slots.evicted == 1
        await asyncio.wait_for(kept[0][0].read(), 5)  # until the gateway hangs up
        for reader, writer in kept[1:]:  # still open, and still usable
            writer.write(
                f"GET /vcs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n\r\n".encode()
            )
            answer = await asyncio.wait_for(read_response(reader), 5)
            assert answer is not None and answer[0] == 200
        for _, writer in kept:
            writer.close()
        h.upstream.release.set()  # the stream was never cut: its next event arrives
        await asyncio.wait_for(stream.readuntil(b'"second"'), 5)
        stream_writer.close()
