"""What a browser's session cookie costs the gateway next to a Bearer token, and how
long a signed-in browser's open connections outlive `token delete`. In front of a real
opencode; prints numbers, each next to its floor from the same run; asserts nothing.

    .venv/bin/python benchmarks/signin_bench.py [--rounds 400] [--tries 10]

Overhead. One keep-alive connection per kind, `GET /path` (opencode's small JSON
answer), the kinds taken in turn within every round (the order rotated each round),
so machine noise falls on all of them alike:
  - direct: opencode itself with its password - the floor of a forwarded request;
  - refused: the gateway, no credentials (401, nothing forwarded) - the floor of the
    gateway's own work;
  - bearer: the gateway, `Authorization: Bearer <token>`;
  - cookie: the gateway, `Cookie: oat_session=<session id>` (a session of the same
    token), decided as the token's own request.
Wall time per request (p50/p99) and its overhead over `direct` (the median of the
per-round differences); and the gateway process's CPU time per request, from
/proc (blocks of `--block` requests of one kind, interleaved), which the other
engineers' load on the machine disturbs much less than wall time.

Cut-off. `--tries` times: a session of a fresh token opens `GET /event` and a terminal
(`POST /pty`, its WebSocket) through the gateway with the cookie alone, the token is
deleted through the library (what `token delete` calls), and the time from that
write's return to the stream's end and the WebSocket's close is taken. Its floor is
the time to the first refused new request with the cookie, sent back to back (the
revocation every request has). The gateway looks at open connections every 0.2 s
(core/gateway/live.py); benchmarks/revocation_bench.py does the same for Bearer.

Needs opencode (.ci/install-opencode.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

import tests.gateway.conftest  # noqa: E402, F401 - resolves the fixtures' import cycle
from core.gateway.signin import COOKIE  # noqa: E402
from core.store import TokenStore  # noqa: E402
from tests.gateway import processes  # noqa: E402
from tests.gateway.live_connections import PTY_BODY, Opened, Watch, read_output  # noqa: E402
from tests.gateway.real_servers import (  # noqa: E402
    basic,
    find_opencode,
    start_opencode,
    stop_opencode,
)

TARGET = "/path"
TICK = os.sysconf("SC_CLK_TCK")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Client:
    """One keep-alive connection and the headers of one kind of request."""

    def __init__(self, base: str, headers: dict[str, str], status: int) -> None:
        split = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
        self.headers = headers
        self.status = status

    def once(self) -> float:
        started = time.perf_counter()
        self.conn.request("GET", TARGET, headers=self.headers)
        answer = self.conn.getresponse()
        answer.read()
        took = time.perf_counter() - started
        if answer.status != self.status:
            raise SystemExit(f"expected {self.status}, got {answer.status} ({self.headers})")
        return took


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def overhead(clients: dict[str, Client], rounds: int) -> dict[str, list[float]]:
    """Wall time of each kind, the kinds interleaved (rotated) within every round."""
    kinds = list(clients)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for kind in kinds:  # warm every connection and path first
        for _ in range(20):
            clients[kind].once()
    for i in range(rounds):
        shift = i % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            times[kind].append(clients[kind].once())
    return times


def cpu_per_request(
    clients: dict[str, Client], pid: int, block: int, blocks: int
) -> dict[str, list[float]]:
    """The gateway's CPU seconds per request of each kind, in interleaved blocks."""
    out: dict[str, list[float]] = {kind: [] for kind in clients}
    for i in range(blocks):
        order = list(clients)
        if i % 2:
            order.reverse()
        for kind in order:
            before = cpu_seconds(pid)
            for _ in range(block):
                clients[kind].once()
            out[kind].append((cpu_seconds(pid) - before) / block)
    return out


async def open_with_cookie(session: aiohttp.ClientSession, url: str, cookie: str) -> Opened:
    """An event stream and a terminal opened with the session cookie alone."""
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    events = await session.get(f"{url}/event", headers=headers)
    assert events.status == 200, await events.text()
    first = await asyncio.wait_for(events.content.readuntil(b"\n\n"), 10)
    assert b"server.connected" in first
    async with session.post(f"{url}/pty", json=PTY_BODY, headers=headers) as created:
        assert created.status == 200, await created.text()
        pty = str((await created.json())["id"])
    ws = await session.ws_connect(f"{url}/pty/{pty}/connect", headers=headers)
    await ws.send_str("echo live-$((6*7))\n")
    await read_output(ws, "live-42")
    return Opened(events, ws, pty)


async def first_refusal(url: str, cookie: str) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}{TARGET}", headers={"Cookie": f"{COOKIE}={cookie}"}) as r:
                await r.read()
                if r.status == 401:
                    return time.monotonic() - started


async def cut_offs(store: TokenStore, url: str, tries: int) -> tuple[list[float], list[float]]:
    closed: list[float] = []
    floor: list[float] = []
    async with aiohttp.ClientSession() as s:
        for i in range(tries):
            issued = store.create(name=f"bench-signin-{i}-{time.monotonic_ns()}")
            session = store.create_session(
                issued.record.id, client="127.0.0.1", user_agent="signin_bench", via="login"
            )
            cookie = session.secret.reveal()
            opened = await open_with_cookie(s, url, cookie)
            watch = Watch(opened)
            probe = asyncio.ensure_future(first_refusal(url, cookie))
            store.delete([issued.record.id])
            watch.start()
            stream, socket = await watch.both(10)
            closed.append(max(stream, socket))
            floor.append(await probe)
            await opened.ws.close()
    return closed, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--tries", type=int, default=10)
    args = parser.parse_args()
    binary = find_opencode()
    if binary is None:
        sys.exit("opencode is not installed: bash .ci/install-opencode.sh")
    opencode = start_opencode(binary)
    folder = Path(tempfile.mkdtemp(prefix="oat-signin-bench-"))
    location = folder / "auth-tokens.json"
    store = TokenStore(location)
    issued = store.create(name="bench", permissions="read,write,execute", expires="1d")
    bearer = issued.secret.reveal()
    cookie = store.create_session(
        issued.record.id, client="127.0.0.1", user_agent="signin_bench", via="login"
    ).secret.reveal()
    # --no-last-used: the batched last_used_at / last seen writes would land in some
    # rounds and not others; both kinds record the same way when it is on.
    child = processes.gateway(location, opencode.url, "--no-last-used", password=opencode.password)
    try:
        url = child.listening_url()
        child.wait_for("serving the directories")
        clients = {
            "direct": Client(opencode.url, {"Authorization": basic(opencode.password)}, 200),
            "refused": Client(url, {}, 401),
            "bearer": Client(url, {"Authorization": f"Bearer {bearer}"}, 200),
            "cookie": Client(url, {"Cookie": f"{COOKIE}={cookie}"}, 200),
        }
        times = overhead(clients, args.rounds)
        cpu = cpu_per_request(clients, child.proc.pid, args.block, args.blocks)
        closed, floor = asyncio.run(cut_offs(store, url, args.tries))
    finally:
        child.stop()
        store.close()
        stop_opencode(opencode)

    print(f"GET {TARGET}, {args.rounds} interleaved rounds (wall time per request)")
    direct = times["direct"]
    for kind in ("direct", "refused", "bearer", "cookie"):
        line = f"  {kind:<8} p50 {ms(pct(times[kind], 0.5))}  p99 {ms(pct(times[kind], 0.99))}"
        if kind != "direct":
            extra = statistics.median(a - b for a, b in zip(times[kind], direct, strict=True))
            line += f"   overhead over direct (median of pairs) {ms(extra)}"
        print(line)
    bearer_extra = statistics.median(
        c - b for c, b in zip(times["cookie"], times["bearer"], strict=True)
    )
    print(f"  cookie - bearer (median of pairs) {ms(bearer_extra)}")
    print(f"gateway CPU per request ({args.blocks} interleaved blocks of {args.block})")
    for kind in ("refused", "bearer", "cookie"):
        print(
            f"  {kind:<8} median {statistics.median(cpu[kind]) * 1e6:7.0f} us"
            f"   | floor (refused, nothing forwarded) "
            f"{statistics.median(cpu['refused']) * 1e6:7.0f} us"
        )
    print(f"cut-off of a signed-in browser's connections, {args.tries} tries (ms)")
    print(
        f"  token delete -> stream and terminal closed  p50 {pct(closed, 0.5) * 1000:5.0f}"
        f"  max {max(closed) * 1000:5.0f}   | floor (a new request with the cookie refused)"
        f" p50 {pct(floor, 0.5) * 1000:5.0f}  max {max(floor) * 1000:5.0f}"
    )


if __name__ == "__main__":
    main()
