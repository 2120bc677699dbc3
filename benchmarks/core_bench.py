"""Benchmark of core at 10, 1,000, 10,000 and 100,000 tokens. Prints numbers, each
next to its floor measured in the same run; asserts nothing.

    .venv/bin/python benchmarks/core_bench.py [--tokens 10 1000 10000 100000]
                                              [--writes 9] [--seconds 2] [--root DIR]

For each store size:

- load: reading and validating the whole file (`read_snapshot`), next to
  `json.loads` of the same bytes - the floor for any reader of a JSON file;
- create / delete / rotate through `TokenStore` (the whole locked
  read-modify-write, fsyncs included), medians of `--writes` runs, next to
  `json.loads` and to an fsynced atomic write of the same bytes (the floors a
  read-modify-write of the file pays at least); goals 80 ms at 10k, 1 s at 100k;
- reload: what one outside change costs an authorizer that holds the previous
  version (`CachedAuthorizer`: read again only the changed blocks, index updated
  for the records that changed), and how many reloads it does per outside write
  while it decides between writes (goal: one per change);
- a server's authorizer (`store.new_reader()`, which keeps token entries, not
  records): its first read of the whole file next to `load`, and its reload after
  one outside write next to the records' reload above;

then, at 10k tokens (or the largest size given): authorization decisions per
second for a realistic mix (goal 100,000/s) next to a bare `sha256 + dict`
lookup (both per second of this thread's CPU time), and the cost of a request
with no token whose 8 KB path is 2,700 `%25` escapes, next to a plain 8 KB path
(goal: at most 2x).

`--root` runs the same benchmark against another checkout (e.g. a git worktree of
an older commit) for before/after tables: only the API both share is used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.store import StoreReader


def _root() -> Path:
    if "--root" in sys.argv:
        return Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
    return Path(__file__).resolve().parents[1]


sys.path.insert(0, str(_root()))

from core.authz.authorizer import CachedAuthorizer  # noqa: E402
from core.model.permissions import Permission  # noqa: E402
from core.model.records import TokenRecord  # noqa: E402
from core.model.token_format import digest, generate, new_id  # noqa: E402
from core.store import TokenStore, read_snapshot, serialize  # noqa: E402
from core.store.file.atomic import atomic_write, ensure_private_dir  # noqa: E402

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SIZES = (10, 1_000, 10_000, 100_000)
WRITE_GOAL_MS = {10_000: 80.0, 100_000: 1000.0}
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


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def row(what: str, value: str, floor: str = "", goal: str = "") -> None:
    print(f"  {what:<38}{value:>13}   {floor:<52}{goal}")


def verdict(value: float, goal: float | None) -> str:
    if goal is None:
        return ""
    return f"goal <= {goal:g} ms: {'met' if value <= goal else 'MISSED'}"


def one_size(folder: Path, count: int, writes: int) -> dict[str, float]:
    path = folder / f"size-{count}" / "auth-tokens.json"
    build_store(path, count)
    data = path.read_bytes()
    print(f"\n{count:,} tokens, {len(data) / 1e6:.2f} MB")
    repeat = 5 if count >= 100_000 else 9
    loads = median_ms(lambda: json.loads(data), repeat)
    write_floor = median_ms(lambda: atomic_write(path, data), repeat)
    load = median_ms(lambda: read_snapshot(path), repeat)
    row("load (read + validate)", f"{load:9.1f} ms", f"json.loads {loads:.1f} ms")
    floors = f"json.loads {loads:.1f} ms + fsynced write {write_floor:.1f} ms"
    store = TokenStore(path, clock=lambda: NOW)
    store.tokens()  # a long-lived store, as the TUI or a script holds one
    names = [f"bench-{i}" for i in range(writes)]
    results: dict[str, float] = {"load": load, "json_loads": loads, "write_floor": write_floor}
    timings: dict[str, list[float]] = {"create": [], "rotate": [], "delete": []}
    for name in names:
        start = time.perf_counter()
        store.create(name=name, permissions="read")
        timings["create"].append(time.perf_counter() - start)
        start = time.perf_counter()
        store.rotate(name)
        timings["rotate"].append(time.perf_counter() - start)
    for name in names:
        start = time.perf_counter()
        store.delete([name])
        timings["delete"].append(time.perf_counter() - start)
    goal = WRITE_GOAL_MS.get(count)
    for op, values in timings.items():
        value = statistics.median(values) * 1000
        results[op] = value
        row(f"{op} (locked, fsynced)", f"{value:9.1f} ms", floors, verdict(value, goal))

    # An authorizer holding the file, while another process writes.
    auth = CachedAuthorizer(StoreReader(path), clock=lambda: NOW)
    auth.index()
    other = TokenStore(path, clock=lambda: NOW)
    reload_times = []
    reloads_before = auth.reloads if hasattr(auth, "reloads") else 0
    for i in range(writes):
        other.create(name=f"outside-{i}", permissions="read")
        start = time.perf_counter()
        auth.index()
        reload_times.append(time.perf_counter() - start)
        for _ in range(20):  # decisions between writes: a racy version read once more
            auth.decide(None, "GET", "/global/health")
            time.sleep(0.004)
    reload_ms = statistics.median(reload_times) * 1000
    results["reload"] = reload_ms
    row("authorizer reload, one outside write", f"{reload_ms:9.1f} ms", f"load {load:.1f} ms")
    if hasattr(auth, "reloads"):
        per_write = (auth.reloads - reloads_before) / writes
        results["reloads_per_write"] = per_write
        row("reloads per outside write", f"{per_write:9.2f}", "", "goal 1 (one per change)")

    # A server's authorizer: `store.new_reader()` (token entries, not records).
    server = TokenStore(path, clock=lambda: NOW)
    first = median_ms(
        lambda: CachedAuthorizer(server.new_reader(), clock=lambda: NOW).index(), min(repeat, 3)
    )
    results["server_load"] = first
    row("server's first read (new_reader)", f"{first:9.1f} ms", f"load {load:.1f} ms")
    auth = CachedAuthorizer(server.new_reader(), clock=lambda: NOW)
    auth.index()
    server_times = []
    for i in range(writes):
        other.create(name=f"outside-server-{i}", permissions="read")
        start = time.perf_counter()
        auth.index()
        server_times.append(time.perf_counter() - start)
    server_ms = statistics.median(server_times) * 1000
    results["server_reload"] = server_ms
    row(
        "server's reload, one outside write",
        f"{server_ms:9.1f} ms",
        f"records' reload {reload_ms:.1f} ms",
    )
    return results


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


def per_second(run: Callable[[], int], seconds: float) -> float:
    """Calls per second of this thread's CPU time (on a shared machine, time
    other processes take is not counted against us)."""
    done = 0
    start = time.thread_time()
    deadline = start + seconds
    while time.thread_time() < deadline:
        done += run()
    return done / (time.thread_time() - start)


def decisions(folder: Path, count: int, seconds: float) -> dict[str, float]:
    path = folder / "decide" / "auth-tokens.json"
    issued = build_store(path, count)
    auth = CachedAuthorizer(StoreReader(path), clock=lambda: NOW)
    mix = request_mix(issued)
    outcomes: dict[tuple[int, str], int] = {}
    for header, method, raw in mix:
        decision = auth.decide(header, method, raw)
        key = (decision.status, decision.reason.value)
        outcomes[key] = outcomes.get(key, 0) + 1
    shown = ", ".join(f"{s} {r} {n / 10:.0f}%" for (s, r), n in sorted(outcomes.items()))
    print(f"\nauthorization, {count:,} tokens; the mix: {shown}")

    def decide_all() -> int:
        for header, method, raw in mix:
            auth.decide(header, method, raw)
        return len(mix)

    table: dict[bytes, object] = {hashlib.sha256(s.encode()).digest(): r for s, r in issued}
    tokens = [header.split()[1] if header else "" for header, _, _ in mix]

    def bare_all() -> int:
        sha256 = hashlib.sha256
        for token in tokens:
            table.get(sha256(token.encode()).digest())
        return len(tokens)

    rate = per_second(decide_all, seconds)
    bare = per_second(bare_all, seconds)
    goal = "met" if rate >= 100_000 else "MISSED"
    row(
        "decisions/s (CachedAuthorizer)",
        f"{rate:12,.0f}",
        f"bare sha256 + dict {bare:,.0f}/s ({bare / rate:.1f}x)",
        f"goal 100,000/s: {goal}",
    )

    # A request with no token whose path is 8 KB of escapes, each one unique (so no
    # cache helps), next to a plain 8 KB path - and both with a valid token.
    full = next(s for s, r in issued if len(r.permissions) == 3 and r.expires_at is None)

    def unique(kind: str, n: int) -> list[str]:
        if kind == "plain":
            return [f"/session/{'a' * 8180}{i:06d}" for i in range(n)]
        return [f"/session/{'%25' * 2724}{i:06d}" for i in range(n)]

    results = {"decisions_per_s": rate, "bare_per_s": bare}
    for header, label in ((None, "no token"), (f"Bearer {full}", "a valid token")):
        costs = {}
        for kind in ("plain", "escapes"):
            targets = unique(kind, 300)
            start = time.perf_counter()
            for target in targets:
                auth.decide(header, "GET", target)
            costs[kind] = (time.perf_counter() - start) / len(targets) * 1e6
        ratio = costs["escapes"] / costs["plain"]
        key = "no_token" if header is None else "token"
        results[f"escapes_{key}_us"] = costs["escapes"]
        results[f"plain_{key}_us"] = costs["plain"]
        row(
            f"8 KB of %25, {label}",
            f"{costs['escapes']:9.1f} us",
            f"a plain 8 KB path {costs['plain']:.1f} us ({ratio:.1f}x)",
            f"goal <= 2x: {'met' if ratio <= 2 else 'MISSED'}" if header is None else "",
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--writes", type=int, default=9, help="writes per operation and size")
    parser.add_argument("--seconds", type=float, default=2.0, help="per decisions/s figure")
    parser.add_argument("--root", type=Path, default=None, help="another checkout to measure")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    pinned = pin_to_one_core()
    print(f"core at {_root()}; python {sys.version.split()[0]}, {pinned}")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="core-bench-") as tmp:
        folder = Path(tmp) / "opencode"
        for count in args.tokens:
            figures[str(count)] = one_size(folder, count, args.writes)
        biggest = 10_000 if 10_000 in args.tokens else max(args.tokens)
        figures["decide"] = decisions(folder, biggest, args.seconds)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
