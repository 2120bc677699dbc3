"""Gateway and forward-auth benchmark: one run, wrk, real opencode and nginx.

    .venv/bin/python benchmarks/gateway_bench.py [--duration 5]

Measures requests/s and p50/p99 latency of `GET /global/health` and
`GET /session` at 1 and 32 connections:

    direct    wrk -> opencode (Basic password)
    gateway   wrk -> opencode-auth-tui gateway -> opencode
    nginx     wrk -> nginx (auth_request -> forward-auth) -> opencode

and forward-auth on its own (decisions/s). Prints the table and the ratios
against the goals: the gateway adds <= 1 ms at p50 with 1 connection and keeps
>= 50% of direct throughput at 32; forward-auth answers >= 5,000 decisions/s.

Everything runs on this machine (loopback only): opencode from
.ci/install-opencode.sh or PATH, nginx and wrk from Debian. The gateway and
forward-auth run as the real CLI, access log to a file, as in production.
The machine's cores are shared by wrk, opencode, nginx and the gateway, so
absolute numbers are modest; the ratios are what the goals are about.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import subprocess

from tests.gateway import processes
from tests.gateway.conftest import make_tokens
from tests.gateway.real_servers import (
    basic,
    find_nginx,
    find_opencode,
    start_nginx,
    start_opencode,
    stop_opencode,
)

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def median(runs: list[Result]) -> Result:
    """The run with the median throughput (its own latencies, so they stay consistent)."""
    ordered = sorted(runs, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    return Result(middle.rps, middle.p50_ms, middle.p99_ms, sum(r.errors for r in runs))


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, headers: dict[str, str], connections: int, duration: int) -> Result:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return Result(rps, p50, p99, errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per measurement")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measurements per cell, interleaved across targets; the median is reported "
        "(the cores are shared, so single runs are noisy)",
    )
    args = parser.parse_args()
    missing = [
        name
        for name, found in (
            ("wrk", shutil.which("wrk")),
            ("opencode (.ci/install-opencode.sh)", find_opencode()),
            ("nginx", find_nginx()),
        )
        if not found
    ]
    if missing:
        print("gateway_bench: missing " + ", ".join(missing), file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="oat-bench-"))
    tokens = make_tokens(tmp / "auth-tokens.json")
    bearer = {"Authorization": f"Bearer {tokens.secrets['rwx']}"}
    oc = start_opencode(find_opencode() or "")
    gw = fa = nginx = None
    try:
        gw = processes.gateway(
            tokens.path,
            oc.url,
            "--access-log",
            str(tmp / "gateway-access.log"),
            password=oc.password,
        )
        fa = processes.forward_auth(tokens.path, "--access-log", str(tmp / "fa-access.log"))
        gw_url, fa_url = gw.listening_url(), fa.listening_url()
        nginx = start_nginx(find_nginx() or "", oc.url, fa_url, oc.password)
        # a few sessions, so GET /session returns a real list
        for _ in range(5):
            processes_request(gw_url, "POST", "/session", bearer)

        targets = {
            "direct": (oc.url, {"Authorization": basic(oc.password)}),
            "gateway": (gw_url, bearer),
            "nginx+fa": (nginx.url, bearer),
        }
        results: dict[tuple[str, str, int], Result] = {}
        print(
            f"{'path':<16}{'conns':>6}  {'target':<10}{'req/s':>10}{'p50 ms':>10}"
            f"{'p99 ms':>10}{'errors':>8}"
        )
        for path in ("/global/health", "/session"):
            for connections in (1, 32):
                runs: dict[str, list[Result]] = {name: [] for name in targets}
                for base, headers in targets.values():
                    wrk(base + path, headers, connections, 1)  # warm-up
                for _ in range(args.rounds):
                    for name, (base, headers) in targets.items():
                        runs[name].append(wrk(base + path, headers, connections, args.duration))
                for name in targets:
                    r = median(runs[name])
                    results[(path, name, connections)] = r
                    print(
                        f"{path:<16}{connections:>6}  {name:<10}{r.rps:>10.0f}{r.p50_ms:>10.3f}"
                        f"{r.p99_ms:>10.3f}{r.errors:>8}",
                        flush=True,
                    )

        fa_headers = {
            **{"Authorization": f"Bearer {tokens.secrets['rx']}"},
            "X-Original-Method": "GET",
            "X-Original-URI": "/session",
        }
        fa_results = {}
        for connections in (1, 32):
            wrk(fa_url + "/auth", fa_headers, connections, 1)
            fa_results[connections] = r = wrk(
                fa_url + "/auth", fa_headers, connections, args.duration
            )
            print(
                f"{'forward-auth':<16}{connections:>6}  {'decisions':<10}{r.rps:>10.0f}"
                f"{r.p50_ms:>10.3f}{r.p99_ms:>10.3f}{r.errors:>8}",
                flush=True,
            )

        print()
        print("ratios (goal in brackets):")
        ok = True
        for path in ("/global/health", "/session"):
            direct1, gw1 = results[(path, "direct", 1)], results[(path, "gateway", 1)]
            added = gw1.p50_ms - direct1.p50_ms
            direct32, gw32 = results[(path, "direct", 32)], results[(path, "gateway", 32)]
            nginx32 = results[(path, "nginx+fa", 32)]
            share = gw32.rps / direct32.rps
            nginx1 = results[(path, "nginx+fa", 1)]
            print(
                f"  {path}: gateway adds {added:.3f} ms at p50, 1 conn  [<= 1 ms] "
                f"{'ok' if added <= 1.0 else 'MISSED'}"
            )
            print(
                f"  {path}: gateway keeps {share:.0%} of direct req/s, 32 conns  [>= 50%] "
                f"{'ok' if share >= 0.5 else 'MISSED'}"
            )
            print(
                f"  {path}: nginx+forward-auth adds {nginx1.p50_ms - direct1.p50_ms:.3f} ms at "
                f"p50, keeps {nginx32.rps / direct32.rps:.0%} of direct req/s at 32"
            )
            ok = ok and added <= 1.0 and share >= 0.5
        best = max(r.rps for r in fa_results.values())
        print(
            f"  forward-auth: {best:.0f} decisions/s  [>= 5000] "
            f"{'ok' if best >= 5000 else 'MISSED'}"
        )
        ok = ok and best >= 5000
        errors = sum(r.errors for r in results.values()) + sum(
            r.errors for r in fa_results.values()
        )
        if errors:
            print(f"  non-2xx responses or socket errors: {errors}")
        return 0 if ok else 1
    finally:
        for child in (gw, fa):
            if child is not None:
                child.stop()
        if nginx is not None:
            nginx.stop()
        stop_opencode(oc)
        shutil.rmtree(tmp, ignore_errors=True)


def processes_request(base: str, method: str, path: str, headers: dict[str, str]) -> None:
    from tests.gateway.real_servers import request

    status, _, body = request(base, method, path, headers, b"{}")
    if status != 200:
        raise RuntimeError(f"{method} {path} -> {status}: {body[:200]!r}")


if __name__ == "__main__":
    sys.exit(main())
