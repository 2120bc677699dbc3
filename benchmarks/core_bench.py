"""Benchmark of core with a 10,000-token store. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/core_bench.py [--tokens N] [--seconds S]

Measures: loading the store (read + validate); the median of one `create` and one
`delete` (the whole locked read-modify-write, fsyncs included); authorization
decisions per second through `CachedAuthorizer.decide` on one core for a mix of
allowed and denied requests (goal: 100,000/s); and, in the same run, a bare loop
of `hashlib.sha256(token).digest()` + dict lookup over the same tokens - the floor
any digest-based check pays - with the ratio between the two.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.atomic import ensure_private_dir
from core.authorize import CachedAuthorizer
from core.models import TokenRecord
from core.permissions import Permission
from core.store import TokenStore, read_snapshot, serialize
from core.token_format import digest, generate, new_id

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PERMISSION_SETS = [
    (Permission.READ,),
    (Permission.READ, Permission.WRITE),
    (Permission.READ, Permission.WRITE, Permission.EXECUTE),
    (Permission.READ, Permission.EXECUTE),
]


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def build_store(path: Path, count: int) -> list[tuple[str, TokenRecord]]:
    """`count` tokens with real secrets (so they can be authorized), written at once."""
    issued: list[tuple[str, TokenRecord]] = []
    ids: set[str] = set()
    for i in range(count):
        secret = generate(os.urandom).reveal()
        token_id = new_id(os.urandom)
        while token_id in ids:
            token_id = new_id(os.urandom)
        ids.add(token_id)
        expires = None if i % 3 == 0 else NOW + timedelta(days=90)
        if i % 50 == 1:
            expires = NOW - timedelta(days=1)  # some expired
        record = TokenRecord(
            id=token_id,
            name=f"token-{i + 1}",
            permissions=PERMISSION_SETS[i % len(PERMISSION_SETS)],
            created_at=NOW - timedelta(days=100),
            expires_at=expires,
            last_used_at=None if i % 2 else NOW - timedelta(hours=i % 48),
            hint="ocat_…" + secret[-4:],
            digest=digest(secret),
        )
        issued.append((secret, record))
    ensure_private_dir(path.parent)
    path.write_bytes(serialize(r for _, r in issued))
    os.chmod(path, 0o600)
    return issued


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def request_mix(issued: list[tuple[str, TokenRecord]]) -> list[tuple[str | None, str, str]]:
    """A realistic mix: mostly valid tokens, some denied for each reason."""
    live = [(s, r) for s, r in issued if r.expires_at is None or r.expires_at > NOW]
    full = [s for s, r in live if len(r.permissions) == 3]
    read_only = [s for s, r in live if r.permissions == (Permission.READ,)]
    expired = [s for s, r in issued if r.expires_at is not None and r.expires_at < NOW]
    unknown = [generate(os.urandom).reveal() for _ in range(50)]
    mix: list[tuple[str | None, str, str]] = []
    paths = ["/file", "/session/abc/message", "/config", "/pty/1", "/find?pattern=x", "/event"]
    for i in range(1000):
        kind = i % 20
        if kind < 10:  # allowed: valid token, enough permissions
            mix.append((f"Bearer {full[i % len(full)]}", ("GET", "POST")[i % 2], paths[i % 6]))
        elif kind < 12:  # allowed: read-only token reading
            mix.append((f"Bearer {read_only[i % len(read_only)]}", "GET", "/file"))
        elif kind == 12:  # denied 403: read-only token on an interactive endpoint
            mix.append((f"Bearer {read_only[i % len(read_only)]}", "POST", "/session"))
        elif kind == 13:  # denied 401: unknown token
            mix.append((f"Bearer {unknown[i % len(unknown)]}", "GET", "/file"))
        elif kind == 14:  # denied 401: bad checksum
            bad = full[i % len(full)]
            mix.append((f"Bearer {bad[:-1]}{'0' if bad[-1] != '0' else '1'}", "GET", "/file"))
        elif kind == 15:  # denied 401: expired
            mix.append((f"Bearer {expired[i % len(expired)]}", "GET", "/file"))
        elif kind == 16:  # denied 401: no header
            mix.append((None, "GET", "/session"))
        elif kind == 17:  # denied 403: method not allowed
            mix.append((f"Bearer {full[i % len(full)]}", "TRACE", "/file"))
        elif kind == 18:  # allowed: encoded traversal, full token
            mix.append((f"Bearer {full[i % len(full)]}", "GET", "/global/../%73ession/x"))
        else:  # public health check
            mix.append((None, "GET", "/global/health"))
    return mix


def decisions_per_second(
    decide: Callable[[str | None, str, str], object],
    mix: list[tuple[str | None, str, str]],
    seconds: float,
) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for header, method, path in mix:
            decide(header, method, path)
        done += len(mix)
    return done / (time.perf_counter() - start)


def bare_per_second(tokens: list[str], table: dict[bytes, object], seconds: float) -> float:
    sha256 = hashlib.sha256
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for token in tokens:
            table.get(sha256(token.encode()).digest())
        done += len(tokens)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--writes", type=int, default=15)
    args = parser.parse_args()

    pinned = pin_to_one_core()
    with tempfile.TemporaryDirectory(prefix="core-bench-") as folder:
        path = Path(folder) / "opencode" / "auth-tokens.json"
        issued = build_store(path, args.tokens)
        size = path.stat().st_size
        print(f"python {sys.version.split()[0]}, {pinned}")
        print(f"store: {args.tokens} tokens, {size / 1e6:.2f} MB at {path.parent}")

        loads = timed(lambda: read_snapshot(path), 7)
        print(f"load (read + validate):      median {statistics.median(loads) * 1e3:8.1f} ms"
              f"   (min {min(loads) * 1e3:.1f} ms)")  # fmt: skip

        store = TokenStore(path, clock=lambda: NOW)
        names = [f"bench-{i}" for i in range(args.writes)]
        creates = []
        for name in names:
            start = time.perf_counter()
            store.create(name=name, permissions="read")
            creates.append(time.perf_counter() - start)
        deletes = []
        for name in names:
            start = time.perf_counter()
            store.delete([name])
            deletes.append(time.perf_counter() - start)
        print(f"create (locked RMW, fsync): median {statistics.median(creates) * 1e3:8.1f} ms")
        print(f"delete (locked RMW, fsync): median {statistics.median(deletes) * 1e3:8.1f} ms")

        auth = CachedAuthorizer(path, clock=lambda: NOW)
        mix = request_mix(issued)
        outcomes: dict[tuple[int, str], int] = {}
        for header, method, raw in mix:
            decision = auth.decide(header, method, raw)
            key = (decision.status, decision.reason.value)
            outcomes[key] = outcomes.get(key, 0) + 1
        shown = ", ".join(f"{s} {r} {n / 10:.0f}%" for (s, r), n in sorted(outcomes.items()))
        print(f"request mix ({len(mix)} requests): {shown}")

        rate = decisions_per_second(auth.decide, mix, args.seconds)
        table: dict[bytes, object] = {hashlib.sha256(s.encode()).digest(): r for s, r in issued}
        tokens = [header.split()[1] if header else "" for header, _, _ in mix]
        bare = bare_per_second(tokens, table, args.seconds)
        goal = "met" if rate >= 100_000 else "MISSED"
        print(f"authorize via CachedAuthorizer.decide: {rate:12,.0f} decisions/s"
              f"   (goal 100,000/s: {goal})")  # fmt: skip
        print(f"bare sha256(token).digest() + dict:    {bare:12,.0f} lookups/s")
        print(f"ratio bare / decide:                   {bare / rate:12.1f}x")


if __name__ == "__main__":
    main()
