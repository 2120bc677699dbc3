"""The PostgreSQL store next to the JSON file, in one run. Prints numbers, each
next to its file counterpart measured in the same run; asserts nothing.

    .venv/bin/python benchmarks/pg_bench.py [--tokens 10000 100000] [--writes 9]
                                            [--decisions 200000] [--rounds 100]

A throw-away cluster is started for the run (tests/pg/cluster.py) with fsync and
synchronous commits ON, as a real server runs (the file engine fsyncs too), on a
unix socket. For each store size:

- seed: the file written whole, next to `migrate --to` of the same records into
  the database (`Store.copy_in`: one transaction);
- load: a whole read by a fresh store object (what every CLI command pays);
- create / delete through a long-lived store (the TUI, a script, the gateway's
  writer): medians of `--writes`; and a cold `create` by a fresh store object,
  which reads everything first (what `opencode-auth-tui token create` pays);
- reload: what one outside change costs an authorizer that holds the previous
  version (file: the changed blocks; database: the rows changed since N).

Then, at the smallest size: authorization decisions per second through
`CachedAuthorizer` on the file and on the database reader (every decision checks
freshness: a stat, or the change number the listener holds); and the revocation
latency across two gateway processes: a token is deleted through the library and
two threads, one per gateway, send requests back to back until each gateway
answers 401; p50, p99 and max of the time from the commit to the first 401.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.authz.authorizer import CachedAuthorizer  # noqa: E402
from core.model.permissions import Permission  # noqa: E402
from core.model.records import TokenRecord  # noqa: E402
from core.model.token_format import digest, generate, new_id  # noqa: E402
from core.store import Store, TokenStore, serialize  # noqa: E402
from core.store.file.atomic import atomic_write, ensure_private_dir  # noqa: E402
from core.store.pg.engine import PostgresStore  # noqa: E402
from tests.gateway import processes  # noqa: E402
from tests.pg.cluster import new_cluster  # noqa: E402

PASSWORD = "bench-upstream-pw"


def records(n: int) -> list[TokenRecord]:
    now = datetime.now(UTC).replace(microsecond=0)
    out = []
    ids: set[str] = set()
    import secrets

    for i in range(n):
        token_id = new_id(secrets.token_bytes)
        while token_id in ids:
            token_id = new_id(secrets.token_bytes)
        ids.add(token_id)
        secret = generate(secrets.token_bytes)
        out.append(
            TokenRecord(
                id=token_id,
                name=f"seed-{i}",
                permissions=(Permission.READ,),
                created_at=now,
                expires_at=now + timedelta(days=90),
                hint=secret.hint,
                digest=digest(secret.reveal()),
            )
        )
    return out


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:9.1f}"


def ops(store: Store, writes: int, tag: str) -> tuple[list[float], list[float]]:
    store.load()
    creates = [timed(lambda i=i: store.create(name=f"{tag}-{i}")) for i in range(writes)]
    deletes = [timed(lambda i=i: store.delete([f"{tag}-{i}"])) for i in range(writes)]
    return creates, deletes


def reload_cost(store: Store, reader_source: Any, writes: int) -> list[float]:
    authorizer = CachedAuthorizer(reader_source)
    authorizer.index()
    out = []
    for i in range(writes):
        store.create(name=f"reload-{i}")
        if isinstance(store, PostgresStore):  # wait until the listener knows
            deadline = time.monotonic() + 2
            while authorizer._fresh()[0] and time.monotonic() < deadline:
                time.sleep(0.001)
        out.append(timed(authorizer.index))
    for i in range(writes):
        store.delete([f"reload-{i}"])
    return out


def size_rows(n: int, folder: Path, url: str, writes: int) -> None:
    seed = records(n)
    path = folder / f"tokens-{n}.json"
    ensure_private_dir(folder)
    file_seed = timed(lambda: atomic_write(path, serialize(seed)))
    db = PostgresStore(url)
    db_seed = timed(lambda: db.copy_in(seed))
    file_store = TokenStore(path)
    rows: list[tuple[str, str, str]] = [
        ("seed (write all / migrate --to)", f"{file_seed * 1000:9.1f}", f"{db_seed * 1000:9.1f}"),
    ]
    file_loads = [timed(lambda: TokenStore(path).load()) for _ in range(3)]
    db_loads = [timed(lambda: PostgresStore(url).load()) for _ in range(3)]
    rows.append(("load (a fresh store, whole)", median_ms(file_loads), median_ms(db_loads)))
    f_create, f_delete = ops(file_store, writes, "f")
    d_create, d_delete = ops(db, writes, "d")
    rows.append(("create (long-lived store)", median_ms(f_create), median_ms(d_create)))
    rows.append(("delete (long-lived store)", median_ms(f_delete), median_ms(d_delete)))
    f_cold = [timed(lambda i=i: TokenStore(path).create(name=f"fc-{i}")) for i in range(3)]
    d_cold = [timed(lambda i=i: PostgresStore(url).create(name=f"dc-{i}")) for i in range(3)]
    rows.append(("create (fresh store: the CLI)", median_ms(f_cold), median_ms(d_cold)))
    f_reload = reload_cost(file_store, path, writes)
    reader = db.new_reader()
    d_reload = reload_cost(db, reader, writes)
    reader.close()
    rows.append(("reload after one change", median_ms(f_reload), median_ms(d_reload)))
    print(f"\n{n:,} tokens                        file (ms)  postgres (ms)")
    for label, f, d in rows:
        print(f"  {label:<32}{f}   {d}")
    db.close()


def decisions(path: Path, url: str, count: int) -> None:
    file_store = TokenStore(path)
    db = PostgresStore(url)
    secret_f = file_store.create(name="decide").secret.reveal()
    secret_d = db.create(name="decide").secret.reveal()
    reader = db.new_reader()
    results = []
    for label, source, secret in (("file", path, secret_f), ("postgres", reader, secret_d)):
        authorizer = CachedAuthorizer(source)
        header = f"Bearer {secret}"
        assert authorizer.decide(header, "GET", "/file/content?path=README.md").allowed
        time.sleep(1.0)  # the database's listener is connected and has polled
        authorizer.decide(header, "GET", "/file/content?path=README.md")
        start = time.perf_counter()
        for _ in range(count):
            authorizer.decide(header, "GET", "/file/content?path=README.md")
        results.append((label, count / (time.perf_counter() - start), authorizer.reloads))
    reader.close()
    n = len(file_store.tokens())
    print(f"\nauthorize decisions/s at {n:,} tokens (one thread, freshness checked per decision)")
    for label, rate, reloads in results:
        print(f"  {label:<10}{rate:12,.0f}/s   (reads during the run: {reloads - 1})")


def status(url: str, secret: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/vcs", headers={"Authorization": f"Bearer {secret}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def revocation(label: str, store: Store, location: str, rounds: int) -> list[float]:
    upstream, upstream_url = processes.fake_upstream(PASSWORD)
    gateways = [
        processes.gateway(location, upstream_url, password=PASSWORD)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    latencies: list[float] = []
    try:
        urls = [g.listening_url() for g in gateways]
        for i in range(rounds):
            issued = store.create(name=f"revoke-{i}")
            secret = issued.secret.reveal()
            for url in urls:
                while status(url, secret) != 200:
                    time.sleep(0.002)
            committed: list[float] = []
            seen: list[float] = [0.0, 0.0]
            go = threading.Event()

            def poll(
                k: int,
                url: str,
                secret: str = secret,
                go: threading.Event = go,
                committed: list[float] = committed,
                seen: list[float] = seen,
            ) -> None:
                go.wait()
                while True:
                    code = status(url, secret)
                    if code == 401 and committed:
                        seen[k] = time.perf_counter() - committed[0]
                        return

            threads = [threading.Thread(target=poll, args=(k, u)) for k, u in enumerate(urls)]
            for thread in threads:
                thread.start()
            go.set()
            time.sleep(0.005)
            store.delete([issued.record.id])
            committed.append(time.perf_counter())
            for thread in threads:
                thread.join(10)
            latencies.extend(seen)
    finally:
        for gateway in gateways:
            gateway.stop()
        upstream.stop()
    return latencies


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--writes", type=int, default=9)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    cluster = new_cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="oat-pg-bench-") as tmp:
            folder = Path(tmp) / "store"
            print("PostgreSQL", cluster.sql("SHOW server_version")[0][0], "(fsync on, unix socket)")
            urls = {}
            for n in args.tokens:
                url = cluster.url(cluster.new_database())
                PostgresStore(url).init_schema()
                urls[n] = url
                size_rows(n, folder, url, args.writes)
            smallest = min(args.tokens)
            decisions(folder / f"tokens-{smallest}.json", urls[smallest], args.decisions)
            print(f"\nrevocation across two gateways, {args.rounds} deletions (ms, commit to 401)")
            for label, store, location in (
                (
                    "file",
                    TokenStore(folder / f"tokens-{smallest}.json"),
                    str(folder / f"tokens-{smallest}.json"),
                ),
                ("postgres", PostgresStore(urls[smallest]), urls[smallest]),
            ):
                lat = revocation(label, store, location, args.rounds)
                print(
                    f"  {label:<10}p50 {percentile(lat, 0.5) * 1000:7.1f}   "
                    f"p99 {percentile(lat, 0.99) * 1000:7.1f}   max {max(lat) * 1000:7.1f}"
                )
    finally:
        cluster.remove()


if __name__ == "__main__":
    main()
