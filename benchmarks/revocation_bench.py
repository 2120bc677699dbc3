"""How long an open event stream and terminal outlive their token, through the gateway
in front of a real opencode, on the JSON file and on PostgreSQL. Prints numbers, each
next to its floor from the same run; asserts nothing.

    .venv/bin/python benchmarks/revocation_bench.py [--tries 20] [--no-postgres]

For each store, `--tries` times: a full token opens `GET /event` and a terminal (a
PTY WebSocket) through the gateway (tests/gateway/live_connections.py), the token
is deleted through the library, and the time from the write's return to the
stream's end and to the WebSocket's close (1008) is taken; the larger of the two is
the figure. Expiry: `--tries` tokens that expire at the same instant each hold a
stream and a terminal, and the time from that instant to each one's close is taken.

The floor is what a NEW request sees: in the same run, the time from the deletion
to the first 401 of requests sent back to back - the revocation every request has
always had. The open connections are looked at every 0.2 s (core/gateway/live.py),
so their figures sit above the floor by up to that interval.

Needs opencode (.ci/install-opencode.sh) and, for the second store, PostgreSQL
(.ci/install-postgres.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

import tests.gateway.conftest  # noqa: E402, F401 - resolves the fixtures' import cycle
from core.store import Store  # noqa: E402
from core.store.engines import open_store  # noqa: E402
from tests.gateway import processes  # noqa: E402
from tests.gateway.live_connections import Watch, open_both  # noqa: E402
from tests.gateway.real_servers import find_opencode, start_opencode, stop_opencode  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def row(what: str, samples: list[float], floor: list[float]) -> None:
    print(
        f"  {what:<44} p50 {pct(samples, 0.5):6.0f} ms  p99 {pct(samples, 0.99):6.0f} ms"
        f"   | floor (a new request refused) p50 {pct(floor, 0.5):5.0f} ms"
        f"  p99 {pct(floor, 0.99):5.0f} ms"
    )


async def first_401(url: str, secret: str) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while True:
            bearer = {"Authorization": f"Bearer {secret}"}
            async with session.get(f"{url}/path", headers=bearer) as r:
                await r.read()
                if r.status == 401:
                    return time.monotonic() - started


async def usable(session: aiohttp.ClientSession, url: str, secret: str) -> None:
    """A database store's new token reaches the gateway with its notification."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        async with session.get(f"{url}/path", headers={"Authorization": f"Bearer {secret}"}) as r:
            if r.status == 200:
                return
        await asyncio.sleep(0.01)
    raise RuntimeError("a new token was never accepted")


async def deletions(store: Store, url: str, tries: int) -> tuple[list[float], list[float]]:
    closed: list[float] = []
    floor: list[float] = []
    async with aiohttp.ClientSession() as s:
        for i in range(tries):
            issued = store.create(name=f"bench-delete-{i}-{time.monotonic_ns()}")
            secret = issued.secret.reveal()
            await usable(s, url, secret)
            opened = await open_both(s, url, secret)
            watch = Watch(opened)
            probe = asyncio.ensure_future(first_401(url, secret))
            store.delete([issued.record.id])
            watch.start()
            stream, socket = await watch.both(10)
            closed.append(max(stream, socket))
            floor.append(await probe)
            await opened.ws.close()
    return closed, floor


async def expiries(store: Store, url: str, tries: int) -> list[float]:
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3 + tries // 2)
    async with aiohttp.ClientSession() as s:
        watches = []
        for i in range(tries):
            issued = store.create(
                name=f"bench-expire-{i}-{time.monotonic_ns()}", expires=at.isoformat()
            )
            await usable(s, url, issued.secret.reveal())
            watches.append(Watch(await open_both(s, url, issued.secret.reveal())))
        left = (at - datetime.now(UTC)).total_seconds()
        assert left > 0, "opening took longer than the expiry: raise the delay"
        await asyncio.sleep(left)
        for watch in watches:
            watch.start()
        times = []
        for watch in watches:
            stream, socket = await watch.both(10)
            times.append(max(stream, socket))
            await watch.opened.ws.close()
    return times


def measure(name: str, location: Any, opencode: Any, tries: int) -> None:
    store = open_store(location)
    child = processes.gateway(location, opencode.url, password=opencode.password)
    try:
        url = child.listening_url()
        child.wait_for("serving the directories")
        closed, floor = asyncio.run(deletions(store, url, tries))
        expired = asyncio.run(expiries(store, url, tries))
    finally:
        child.stop()
        store.close()
    print(f"{name}:")
    row("token delete -> stream and terminal closed", closed, floor)
    row("expiry passes -> stream and terminal closed", expired, floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    binary = find_opencode()
    if binary is None:
        sys.exit("opencode is not installed: bash .ci/install-opencode.sh")
    opencode = start_opencode(binary)
    folder = Path(tempfile.mkdtemp(prefix="oat-revocation-"))
    try:
        print(f"revocation of open connections, {args.tries} tries each (times in ms)")
        measure("JSON file", folder / "auth-tokens.json", opencode, args.tries)
        if not args.no_postgres:
            from core.store.pg.engine import PostgresStore
            from tests.pg.cluster import new_cluster

            cluster = new_cluster(durable=True)
            try:
                url = cluster.url(cluster.new_database())
                PostgresStore(url).init_schema()
                measure("PostgreSQL", url, opencode, args.tries)
            finally:
                cluster.remove()
    finally:
        stop_opencode(opencode)


if __name__ == "__main__":
    main()
