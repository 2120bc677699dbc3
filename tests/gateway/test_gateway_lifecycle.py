"""Start-up, shutdown and last_used_at: graceful on SIGTERM/SIGINT, nothing lost."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.gateway.usage import UsageRecorder, Used
from core.store import TokenStore
from tests.gateway import processes, real_servers
from tests.gateway.conftest import PASSWORD, Tokens, gateway_harness
from tests.gateway.fake_upstream import FAKE_DIRECTORY


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def get(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- last_used_at --------------------------------------------------------------------


async def test_usage_is_noted_at_most_once_a_minute_per_token() -> None:
    clock = FakeClock()
    batches: list[dict[str, Used]] = []
    usage = UsageRecorder(lambda batch: batches.append(dict(batch)), clock=clock)
    for _ in range(100):
        usage.seen("a")
    usage.seen("b")
    await usage.flush()
    assert batches == [{"a": clock.now, "b": clock.now}]
    clock.advance(59)
    usage.seen("a")
    await usage.flush()
    assert len(batches) == 1  # nothing new within the minute: no write at all
    clock.advance(1)
    usage.seen("a")
    usage.seen("a")
    await usage.flush()
    assert batches[-1] == {"a": clock.now}


async def test_a_failed_write_is_retried_with_the_latest_time() -> None:
    clock = FakeClock()
    calls: list[dict[str, datetime]] = []
    warnings: list[str] = []

    def flaky(batch: dict[str, datetime]) -> None:
        calls.append(dict(batch))
        if len(calls) == 1:
            raise OSError("disk full")

    usage = UsageRecorder(flaky, clock=clock, warn=warnings.append)  # type: ignore[arg-type]
    usage.seen("a")
    await usage.flush()
    assert "disk full" in warnings[0]
    clock.advance(120)
    usage.seen("a")
    await usage.flush()
    assert calls[-1] == {"a": clock.now}


async def test_the_gateway_does_not_read_back_its_own_last_used_write(
    tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store.file import index_reader, reading

    clock = FakeClock()
    reads: list[object] = []
    real = reading.read_file

    def counted(*args: Any) -> Any:
        reads.append(args[0])
        return real(*args)

    monkeypatch.setattr(index_reader, "read_file", counted)  # the authorizer's reads

    def wired(store: TokenStore) -> UsageRecorder:
        return UsageRecorder(store.record_usage, clock=clock, flush_every=3600)

    async with gateway_harness(tokens, usage_from=wired) as h:
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        assert h.gateway.usage is not None
        reads.clear()
        await h.gateway.usage.flush()
        assert TokenStore(tokens.path).get(tokens.ids["r"]).last_used_at is not None
        reads.clear()  # (that check read the file itself, with a store of its own)
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        assert reads == []  # the authorizer took the store's own write: nothing read
        # another process's change is still read, and applies at once
        TokenStore(tokens.path).delete([tokens.ids["r"]])
        reads.clear()
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 401
        assert len(reads) == 1  # one read for one change


async def test_gateway_records_last_used_through_the_store_off_the_request_path(
    tokens: Tokens,
) -> None:
    clock = FakeClock()
    release = threading.Event()
    store = TokenStore(tokens.path)
    real_write = store.record_usage
    writes: list[int] = []

    def slow_write(batch):  # type: ignore[no-untyped-def]
        release.wait(10)  # a store lock held by someone else for a while
        writes.append(len(batch))
        return real_write(batch)

    usage = UsageRecorder(slow_write, clock=clock, flush_every=3600)
    async with gateway_harness(tokens, usage=usage) as h:
        for _ in range(5):
            async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
                assert resp.status == 200
        flushing = asyncio.ensure_future(usage.flush())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        for _ in range(5):  # the write is stuck; requests are not
            async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
                assert resp.status == 200
        assert time.perf_counter() - started < 2
        release.set()
        await flushing
        assert writes == [1]
        record = store.get(tokens.ids["r"])
        assert record.last_used_at == clock.now.replace(microsecond=0)
        assert store.get(tokens.ids["w"]).last_used_at is None
        clock.advance(30)
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        await usage.flush()
        assert writes == [1]
        # a denied request is not "use"
        async with h.client.get(f"{h.url}/session", headers=h.bearer("w")) as resp:
            assert resp.status == 403
        clock.advance(31)
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("rw")) as resp:
            assert resp.status == 200
    # the listener's shutdown flushed the last batch
    assert writes == [1, 1]
    assert store.get(tokens.ids["rw"]).last_used_at == clock.now.replace(microsecond=0)
    assert store.get(tokens.ids["w"]).last_used_at is None


# --- graceful shutdown (in-process) -------------------------------------------------


async def test_stop_lets_in_flight_requests_finish_and_ends_streams(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        slow = asyncio.ensure_future(h.client.get(f"{h.url}/slow?s=0.7", headers=h.bearer("rwx")))
        sse = await h.client.get(f"{h.url}/event", headers=h.bearer("rx"))
        await sse.content.readuntil(b"\n\n")
        ws = await h.client.ws_connect(f"{h.url}/pty/p/connect", headers=h.bearer("rwx"))
        await ws.receive()
        await asyncio.sleep(0.1)
        stopping = asyncio.ensure_future(h.listener.stop())
        resp = await slow
        assert resp.status == 200
        assert await resp.json() == {"slow": True}
        assert await asyncio.wait_for(sse.content.read(), 5) == b""  # ended cleanly
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
        await stopping
        with pytest.raises(aiohttp.ClientConnectorError):
            async with aiohttp.ClientSession() as fresh:
                await fresh.get(f"{h.url}/vcs", headers=h.bearer("r"))
        resp.release()
        sse.release()
        await ws.close()


# --- the real command line ---------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_after_in_flight_requests(tokens: Tokens, sig: int) -> None:
    upstream, upstream_url = processes.fake_upstream(PASSWORD)
    with upstream, processes.gateway(tokens.path, upstream_url, password=PASSWORD) as gw:
        url = gw.serving_url()
        assert get(f"{url}/vcs", tokens.secrets["r"])[0] == 200
        result: dict[str, object] = {}

        def slow() -> None:
            result["answer"] = get(f"{url}/slow?s=1", tokens.secrets["rwx"])

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.3)
        code = gw.stop(sig)
        thread.join(10)
        assert result["answer"] == (200, b'{"slow": true}')
        assert code == 0
        assert any("stopped" in line for line in gw.err)
        log = [json.loads(line) for line in gw.out]
        assert [(x["path"], x["status"]) for x in log] == [("/vcs", 200), ("/slow", 200)]
        assert all(tokens.secrets["r"] not in line for line in gw.out + gw.err)
        upstream.stop()


def test_any_directory_says_when_it_has_learned_opencodes_directory(tokens: Tokens) -> None:
    """With --any-directory, a request that names no directory needs opencode's own
    (503 `directory_unknown` until it is learned): the server says when it has it,
    as it does for its directories otherwise."""
    upstream, upstream_url = processes.fake_upstream(PASSWORD)
    with (
        upstream,
        processes.forward_auth(tokens.path, upstream=upstream_url, password=PASSWORD) as fa,
    ):
        url = fa.serving_url()
        line = fa.wait_for(r"serving every directory; opencode's own is (\S+)")
        assert line.group(1) == FAKE_DIRECTORY
        status, _, body = real_servers.request(
            url,
            path="/auth",
            headers={
                "X-Original-Method": "GET",
                "X-Original-URI": "/file?path=x",  # no directory named: opencode's own
                "Authorization": f"Bearer {tokens.secrets['r']}",
            },
        )
        assert status == 200, body[:200]
        upstream.stop()


def test_sigterm_stops_it_when_nobody_reads_its_output_any_more(tokens: Tokens) -> None:
    """A server (forward-auth; the gateway shares the code) whose stdout and
    stderr pipes were closed - the terminal or supervisor that started it went
    away - still stops on SIGTERM."""
    import subprocess

    child = subprocess.Popen(
        [*processes.cli_command(), "--store", str(tokens.path), "forward-auth", "--any-directory",
         "--listen", "127.0.0.1:0", "--upstream", processes.UNREACHABLE, "--access-log", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert child.stderr is not None and child.stdout is not None
        for line in child.stderr:
            if "listening on" in line:
                break
        child.stderr.close()
        child.stdout.close()
        child.send_signal(signal.SIGTERM)
        assert child.wait(15) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_start_up_messages_and_warnings(tokens: Tokens) -> None:
    upstream, upstream_url = processes.fake_upstream(PASSWORD)
    with upstream, processes.gateway(tokens.path, upstream_url) as gw:  # no password
        gw.listening_url()
        gw.wait_for("OPENCODE_SERVER_PASSWORD is not set")
        gw.wait_for("refused the gateway's credentials")  # the start-up probe
        assert gw.stop() == 0
        upstream.stop()


def test_non_loopback_without_tls_warns_loudly(tokens: Tokens) -> None:
    with processes.Child(
        [
            *processes.cli_command(),
            "--store",
            str(tokens.path),
            "gateway",
            "--listen",
            "0.0.0.0:0",
            "--upstream",
            "http://127.0.0.1:9",
        ],
        env={"OPENCODE_SERVER_PASSWORD": "x"},
    ) as gw:
        gw.listening_url()
        gw.wait_for("NOT a loopback address, WITHOUT TLS")
        assert gw.stop() == 0


def test_forward_auth_refuses_a_non_loopback_address_unless_told(tokens: Tokens) -> None:
    with processes.forward_auth(tokens.path, listen="0.0.0.0:0") as fa:
        assert fa.proc.wait(20) == 2
        fa.stop()
        assert len(fa.err) == 1 and fa.err[0].startswith("opencode-auth-tui: error: refusing")
    with processes.forward_auth(tokens.path, "--allow-non-loopback", listen="0.0.0.0:0") as fa:
        fa.listening_url()
        assert fa.stop() == 0


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["gateway", "--listen", "nonsense"], "expected HOST:PORT"),
        (["gateway", "--listen", "127.0.0.1:99999"], "0 to 65535"),
        (["gateway", "--upstream", "ftp://x"], "http:// or https://"),
        (["gateway", "--upstream", "http://u:p@127.0.0.1:1"], "no credentials in the URL"),
        (["gateway", "--tls-cert", "/nonexistent.pem"], "give both or neither"),
        (["gateway", "--tls-cert", "/no.pem", "--tls-key", "/no.key"], "cannot load"),
        (["gateway", "--upstream-timeout", "-1"], "number of seconds"),
        (["gateway", "--max-connections", "0"], "whole number"),
        (["forward-auth", "--listen", ":80"], "host is empty"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(tokens: Tokens, args: list[str], expect: str) -> None:
    with processes.Child([*processes.cli_command(), "--store", str(tokens.path), *args]) as c:
        assert c.proc.wait(20) == 2
        c.stop()
        assert len(c.err) == 1, c.err
        assert c.err[0].startswith("opencode-auth-tui: error: ")
        assert expect in c.err[0]


def test_a_corrupt_store_at_start_up_is_exit_3(tmp_path: Path) -> None:
    store = tmp_path / "auth-tokens.json"
    store.write_text("{ broken")
    for command in (["gateway"], ["forward-auth", "--any-directory"]):
        with processes.Child(
            [*processes.cli_command(), "--store", str(store), *command, "--listen", "127.0.0.1:0"]
        ) as c:
            assert c.proc.wait(20) == 3
            c.stop()
            assert len(c.err) == 1 and str(store) in c.err[0]


def test_an_empty_store_warns_that_everything_will_be_refused(tmp_path: Path) -> None:
    with processes.forward_auth(tmp_path / "none.json") as fa:
        fa.listening_url()
        fa.wait_for("has no tokens yet")
        assert fa.stop() == 0


def test_a_busy_port_is_a_clear_error(tokens: Tokens) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with processes.forward_auth(tokens.path, listen=f"127.0.0.1:{port}") as fa:
            assert fa.proc.wait(20) == 2
            fa.stop()
            assert any("cannot listen on" in line for line in fa.err), fa.err
