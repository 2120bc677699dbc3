"""The gateway's own cost (issue 20), each figure next to its floor or peer from
the same run. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/front_cost_bench.py [--only cpu echo memory ready fa bigcpu]
        [--rounds 5] [--seconds 4] [--connections 4] [--tokens 100000] [--root DIR]
        [--before DIR] [--no-uvloop]

cpu     CPU of the front process per proxied request (`/global/health`,
        `/file/content`, `/session`) in front of the real opencode 1.18.33, the
        same wrk load on each front, fronts interleaved round by round: the
        gateway (access log to a file, last_used_at on, as in production), a
        bare aiohttp reverse proxy with no auth (benchmarks/bare_proxy.py, the
        floor) and nginx `auth_basic` (an apr1 htpasswd, htpasswd's default
        hash). CPU is utime + stime from /proc/PID/stat across the run, divided
        by the requests wrk completed; the gateway/bare ratio is paired per
        round. opencode's own cost dominates the wall time, so the front's CPU is
        the figure. Goal: <= 1.3x the bare proxy.
echo    A keystroke's round trip through each front to a low-jitter WebSocket echo
        (benchmarks/echo_upstream.py), minus the same round trip direct, 500 keys
        a round, one key in flight: the gateway, nginx + forward-auth (the
        README's config) and the bare proxy. Goal: added p99 <= 1 ms.
memory  The gateway's resident memory with a `--tokens` store: idle once ready,
        and after 32 connections cycling through 1,000 tokens (and its peak), next
        to a bare aiohttp server and the bare proxy. Goal: <= 150 MB idle.
ready   From launch to the first authorized answer, a `--tokens` store and a
        10-token one. Goal: <= 2 s at 100k.
fa      forward-auth with a `--tokens` store, asked continuously from launch:
        when it listens, its first answers and their statuses in the first 5 s.
        Goal: ready before it listens, or 503 with a reason until then.
bigcpu  CPU of the gateway per `GET /session` with a `--tokens` store, once the
        token's first use has been written (the gateway's own usage write, which
        it takes without reading the file), next to the bare proxy over the echo
        upstream; with `--before`, the other checkout's gateway too.

`--root DIR` runs the gateway and forward-auth of another checkout (a git
worktree of an older commit) instead of this one's; the peers are this
checkout's. `--before DIR` adds another checkout's gateway as one more front in
the same run (cpu, echo), so before and after share every round's conditions.
The gateway runs on uvloop when it is installed (core/gateway/eventloop.py);
the bare proxy then runs twice, on asyncio's loop (the floor of issue 20) and on
uvloop (like for like), unless `--no-uvloop`. Key presses go to every front's
terminal in turn, so a hiccup of this machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# this checkout's test helpers (opencode, nginx), before core_bench puts --root first
from tests.gateway import processes  # noqa: E402, I001
from tests.gateway.conftest import make_tokens  # noqa: E402
from tests.gateway.real_servers import (  # noqa: E402
    NGINX_SITE,
    basic,
    find_nginx,
    find_opencode,
    start_nginx,
    start_opencode,
    stop_opencode,
)

from core_bench import build_store  # noqa: E402

PATHS = ("/global/health", "/file/content?path=README.md", "/session")
HZ = os.sysconf("SC_CLK_TCK")
BENCH = Path(__file__).resolve().parent

# nginx with auth_basic in front of opencode: the password checked by nginx itself
BASIC_SITE = """\
    upstream opencode {{ server {upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_basic "opencode";
            auth_basic_user_file HTPASSWD;
            proxy_pass http://opencode;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Authorization "{authorization}";
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
"""


# --- tools ---------------------------------------------------------------------------


class Tool:
    """The command line of this checkout, or of `--root`."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        if root is None:
            self.argv = processes.cli_command()
        else:
            code = f"import sys; sys.path.insert(0, {str(root)!r}); from core.cli import main; "
            self.argv = [sys.executable, "-c", code + "sys.exit(main(sys.argv[1:]))"]

    def gateway(
        self, store: Path, upstream: str, password: str | None, *extra: str
    ) -> processes.Child:
        return processes.Child(
            [*self.argv, "--store", str(store), "gateway", "--upstream", upstream,
             "--listen", "127.0.0.1:0", *extra],
            env={"OPENCODE_SERVER_PASSWORD": password} if password else None,
        )  # fmt: skip

    def forward_auth(
        self, store: Path, upstream: str, directory: str, *extra: str
    ) -> processes.Child:
        return processes.Child(
            [*self.argv, "--store", str(store), "forward-auth", "--listen", "127.0.0.1:0",
             "--upstream", upstream, "--directory", directory, *extra],
        )  # fmt: skip


BARE = "bare aiohttp proxy"
BARE_UVLOOP = "bare proxy on uvloop"
BEFORE = "gateway (--before)"


def bare_loops(args: argparse.Namespace) -> list[tuple[str, bool]]:
    """The bare proxy on asyncio's loop (the floor of issue 20), and on uvloop too
    when it is installed: the gateway runs on uvloop then, so that is like for like."""
    loops = [(BARE, False)]
    if args.uvloop:
        loops.append((BARE_UVLOOP, True))
    return loops


def script(name: str, *args: str, uvloop: bool = False) -> tuple[processes.Child, str]:
    child = processes.Child(
        [sys.executable, str(BENCH / name), *args, *(["--uvloop"] if uvloop else [])]
    )
    return child, f"http://127.0.0.1:{child.first_line()}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def gateway_loop(tool: Tool) -> str:
    """The loop the gateway of `tool` runs on (core/gateway/eventloop.py)."""
    root = tool.root or ROOT
    if not (root / "core" / "gateway" / "eventloop.py").exists():
        return "asyncio"
    if os.environ.get("OPENCODE_AUTH_TUI_LOOP", "").strip().lower() == "asyncio":
        return "asyncio"
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int


def wrk(url: str, headers: dict[str, str], connections: int, seconds: float,
        lua: Path | None = None) -> Load:  # fmt: skip
    # wrk takes whole seconds only
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    if lua is not None:
        argv += ["-s", str(lua)]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    assert found, out
    took = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return Load(int(found.group(1)), took, errors)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """median (min-max)"""
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


def quiet_enough(limit: float = 1.5, wait: float = 60.0) -> str:
    """Wait (up to `wait` s) for the 1-minute load average to drop below `limit`."""
    deadline = time.monotonic() + wait
    load = os.getloadavg()[0]
    while load >= limit and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return f"load average {load:.2f}"


# --- 1. CPU per proxied request ------------------------------------------------------


def htpasswd(folder: Path, user: str, password: str) -> Path:
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = folder / "htpasswd"
    path.write_text(f"{user}:{hashed}\n")
    return path


def cpu_rows(tool: Tool, tmp: Path, args: argparse.Namespace) -> None:
    binary, nginx_binary = find_opencode(), find_nginx()
    if binary is None or nginx_binary is None:
        print("cpu: needs opencode (.ci/install-opencode.sh) and nginx")
        return
    tokens = make_tokens(tmp / "cpu-store" / "auth-tokens.json")
    oc = start_opencode(binary)
    fronts: list[tuple[str, int, str, dict[str, str]]] = []
    children: list[processes.Child] = []
    nginx = None
    try:
        gw = tool.gateway(tokens.path, oc.url, oc.password, "--access-log", str(tmp / "gw.log"))
        children.append(gw)
        gw_url = gw.listening_url()
        gw.wait_for("serving the directories")
        fronts = [("gateway", gw.proc.pid, gw_url, tokens.bearer("rwx"))]
        if args.before is not None:
            old = Tool(args.before.resolve()).gateway(
                tokens.path, oc.url, oc.password, "--access-log", str(tmp / "gw-before.log")
            )
            children.append(old)
            fronts.append((BEFORE, old.proc.pid, old.listening_url(), tokens.bearer("rwx")))
            old.wait_for("serving the directories")
        for name, on_uvloop in bare_loops(args):
            bare, bare_url = script("bare_proxy.py", oc.url, oc.authorization, uvloop=on_uvloop)
            children.append(bare)
            fronts.append((name, bare.proc.pid, bare_url, {}))
        site = BASIC_SITE.replace("HTPASSWD", str(htpasswd(tmp, "me", "basic-pw-1234")))
        nginx = start_nginx(nginx_binary, oc.url, "http://127.0.0.1:9", oc.password, site=site,
                            healthy=False)  # fmt: skip
        fronts.append(("nginx auth_basic", nginx.proc.pid, nginx.url,
                       {"Authorization": basic("basic-pw-1234", "me")}))  # fmt: skip
        for _, _, url, headers in fronts:  # a few sessions, so /session lists something
            for path in PATHS:
                wrk(url + path, headers, 1, 1)
        from tests.gateway.real_servers import request

        for _ in range(3):
            request(gw_url, "POST", "/session", tokens.bearer("rwx"), b"{}")
        print(f"\n1. CPU of the front per request, {args.connections} connections, "
              f"{args.seconds:g} s per cell, {args.rounds} rounds; {quiet_enough()}")  # fmt: skip
        cells: dict[tuple[str, str], list[float]] = {}
        rates: dict[tuple[str, str], list[float]] = {}
        errors = 0
        for _ in range(args.rounds):
            for path in PATHS:
                for name, pid, url, headers in fronts:
                    before = cpu_seconds(pid)
                    load = wrk(url + path, headers, args.connections, args.seconds)
                    used = cpu_seconds(pid) - before
                    cells.setdefault((path, name), []).append(used / load.requests * 1000)
                    rates.setdefault((path, name), []).append(load.requests / load.seconds)
                    errors += load.errors
        print(f"   {'path':<30}{'front':<26}{'CPU ms/request':>22}{'req/s':>9}"
              f"{'x bare (paired)':>24}")  # fmt: skip
        for path in PATHS:
            for name, _, _, _ in fronts:
                values = cells[(path, name)]
                paired = [v / b for v, b in zip(values, cells[(path, BARE)], strict=True)]
                rate = statistics.median(rates[(path, name)])
                print(f"   {path:<30}{name:<26}{spread(values, '{:.3f}'):>22}"
                      f"{rate:>9.0f}{spread(paired):>24}")  # fmt: skip
            for gateway in ("gateway", BEFORE):
                for bare_name, _ in bare_loops(args):
                    if (path, gateway) not in cells:
                        continue
                    ratio = [
                        g / b
                        for g, b in zip(cells[(path, gateway)], cells[(path, bare_name)],
                                        strict=True)
                    ]  # fmt: skip
                    met = statistics.median(ratio) <= 1.3
                    print(f"   {'':<30}{gateway} / {bare_name}: {spread(ratio)}  "
                          f"(goal <= 1.3x: {'met' if met else 'MISSED'})")  # fmt: skip
        if errors:
            print(f"   non-2xx answers or socket errors: {errors}")
    finally:
        for child in children:
            child.stop()
        if nginx is not None:
            nginx.stop()
        stop_opencode(oc)


# --- 2. keystroke echo ----------------------------------------------------------------


class Terminal:
    """A WebSocket client on a plain blocking socket: one key in flight."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /pty/pty_bench/connect HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"{url}: closed during the handshake: {head[:200]!r}")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise RuntimeError(f"{url}: handshake answered {head[:300]!r}")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def key(self, char: bytes) -> int:
        """Send one key, wait for its echo; the round trip in ns."""
        mask = os.urandom(4)
        frame = (
            bytes((0x81, 0x80 | len(char)))
            + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(char))
        )
        start = time.perf_counter_ns()
        self.sock.sendall(frame)
        while True:
            while len(self.buffer) < 2 or len(self.buffer) < 2 + (self.buffer[1] & 0x7F):
                self.buffer += self.sock.recv(65536)
            n = self.buffer[1] & 0x7F
            opcode = self.buffer[0] & 0x0F
            self.buffer = self.buffer[2 + n :]
            if opcode in (0x1, 0x2):
                return time.perf_counter_ns() - start

    def close(self) -> None:
        self.sock.close()


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def echo_rows(tool: Tool, tmp: Path, args: argparse.Namespace) -> None:
    nginx_binary = find_nginx()
    directory = tmp / "project"
    directory.mkdir(exist_ok=True)
    tokens = make_tokens(tmp / "echo-store" / "auth-tokens.json")
    echo, echo_url = script("echo_upstream.py", str(directory))
    children = [echo]
    nginx = None
    try:
        gw = tool.gateway(tokens.path, echo_url, None, "--access-log", str(tmp / "gw-echo.log"))
        children.append(gw)
        gw_url = gw.listening_url()
        gw.wait_for("serving the directories")
        targets: dict[str, tuple[str, dict[str, str]]] = {
            "direct": (echo_url, {}),
            "gateway": (gw_url, tokens.bearer("rwx")),
        }
        if args.before is not None:
            old = Tool(args.before.resolve()).gateway(
                tokens.path, echo_url, None, "--access-log", str(tmp / "gw-echo-before.log")
            )
            children.append(old)
            targets[BEFORE] = (old.listening_url(), tokens.bearer("rwx"))
            old.wait_for("serving the directories")
        for name, on_uvloop in bare_loops(args):
            bare, bare_url = script("bare_proxy.py", echo_url, uvloop=on_uvloop)
            children.append(bare)
            targets[name] = (bare_url, {})
        if nginx_binary is not None:
            fa = tool.forward_auth(tokens.path, echo_url, str(directory), "--access-log", "off")
            children.append(fa)
            fa.listening_url()
            fa.wait_for("serving the directories")
            nginx = start_nginx(nginx_binary, echo_url, fa.listening_url(), "unused",
                                site=NGINX_SITE)  # fmt: skip
            targets["nginx + forward-auth"] = (nginx.url, tokens.bearer("rwx"))
        print(f"\n2. a keystroke's round trip to a WebSocket echo, {args.keys} keys a round, "
              f"{args.rounds} rounds; {quiet_enough()}")  # fmt: skip
        p50: dict[str, list[float]] = {name: [] for name in targets}
        p99: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            # every front's terminal open at once, keys sent to each in turn: the
            # machine's own hiccups fall on all of them alike
            terminals = {name: Terminal(url, headers) for name, (url, headers) in targets.items()}
            try:
                for terminal in terminals.values():
                    for _ in range(50):
                        terminal.key(b"w")
                times: dict[str, list[int]] = {name: [] for name in targets}
                for _ in range(args.keys):
                    time.sleep(args.key_gap)  # typing: the processes sleep between keys
                    for name, terminal in terminals.items():
                        times[name].append(terminal.key(b"k"))
            finally:
                for terminal in terminals.values():
                    terminal.close()
            for name in targets:
                p50[name].append(percentile(times[name], 0.5))
                p99[name].append(percentile(times[name], 0.99))
        print(f"   {'front':<24}{'p50 ms':>22}{'p99 ms':>24}{'added p50 ms':>26}"
              f"{'added p99 ms':>28}")  # fmt: skip
        for name in targets:
            added50 = [a - d for a, d in zip(p50[name], p50["direct"], strict=True)]
            added99 = [a - d for a, d in zip(p99[name], p99["direct"], strict=True)]
            print(f"   {name:<24}{spread(p50[name], '{:.3f}'):>22}"
                  f"{spread(p99[name], '{:.3f}'):>24}"
                  f"{spread(added50, '{:+.3f}'):>26}{spread(added99, '{:+.3f}'):>28}")  # fmt: skip
        added = statistics.median(a - d for a, d in zip(p99["gateway"], p99["direct"], strict=True))
        print(f"   gateway added p99 {added:+.3f} ms  "
              f"(goal <= 1 ms: {'met' if added <= 1 else 'MISSED'})")  # fmt: skip
    finally:
        for child in children:
            child.stop()
        if nginx is not None:
            nginx.stop()


# --- 3-5. a large store: memory, ready, forward-auth's first answers -------------------


def big_store(tmp: Path, count: int) -> tuple[Path, list[str]]:
    from core.model.permissions import Permission

    store = tmp / "big" / "auth-tokens.json"
    issued = build_store(store, count)
    needs = {Permission.READ, Permission.EXECUTE}  # what GET /session needs
    usable = [s for s, r in issued if needs <= set(r.permissions) and r.expires_at is None]
    return store, usable


def wait_answer(url: str, path: str, headers: dict[str, str], deadline: float) -> int | None:
    from tests.gateway.real_servers import request

    while time.monotonic() < deadline:
        try:
            return request(url, path=path, headers=headers, timeout=10)[0]
        except OSError:
            time.sleep(0.02)
    return None


def ready_seconds(tool: Tool, store: Path, upstream: str, secret: str) -> tuple[float, float]:
    """(to the "listening" line, to the first 200 for a token) from launch."""
    started = time.monotonic()
    child = tool.gateway(store, upstream, None, "--access-log", "off")
    try:
        url = child.listening_url()
        listening = time.monotonic() - started
        headers = {"Authorization": f"Bearer {secret}"}
        while True:
            status = wait_answer(url, "/session", headers, started + 60)
            if status == 200 or status is None or time.monotonic() - started > 60:
                break
            time.sleep(0.02)
        return listening, time.monotonic() - started
    finally:
        child.stop()


def ready_rows(tool: Tool, tmp: Path, args: argparse.Namespace, store: Path,
               secrets: list[str]) -> None:  # fmt: skip
    directory = tmp / "project"
    directory.mkdir(exist_ok=True)
    echo, echo_url = script("echo_upstream.py", str(directory))
    small = make_tokens(tmp / "small" / "auth-tokens.json")
    try:
        print(f"\n4. from launch to the first authorized answer; {quiet_enough()}")
        big: list[tuple[float, float]] = []
        tiny: list[tuple[float, float]] = []
        for _ in range(args.ready_rounds):
            big.append(ready_seconds(tool, store, echo_url, secrets[0]))
            tiny.append(ready_seconds(tool, small.path, echo_url, small.secrets["rwx"]))
        for label, runs in ((f"{args.tokens:,} tokens", big), ("10 tokens", tiny)):
            print(f"   {label:<16} listening {spread([r[0] for r in runs])} s, "
                  f"first 200 {spread([r[1] for r in runs])} s")  # fmt: skip
        ready = statistics.median(r[1] for r in big)
        print(f"   goal <= 2 s at 100k: {'met' if ready <= 2 else 'MISSED'}")
    finally:
        echo.stop()


def memory_rows(tool: Tool, tmp: Path, args: argparse.Namespace, store: Path,
                secrets: list[str]) -> None:  # fmt: skip
    directory = tmp / "project"
    directory.mkdir(exist_ok=True)
    echo, echo_url = script("echo_upstream.py", str(directory))
    children = [echo]
    try:
        print(f"\n3. resident memory, {args.tokens:,} tokens; {quiet_enough()}")
        gw = tool.gateway(store, echo_url, None, "--access-log", str(tmp / "mem.log"))
        children.append(gw)
        url = gw.listening_url()
        wait_answer(url, "/session", {"Authorization": f"Bearer {secrets[0]}"},
                    time.monotonic() + 60)  # fmt: skip
        time.sleep(2)
        idle = rss_mb(gw.proc.pid)
        lua = tmp / "rotate.lua"
        lua.write_text(
            "tokens = {" + ",".join(f'"{s}"' for s in secrets[:1000]) + "}\n"
            "counter = 0\nrequest = function()\n  counter = counter + 1\n"
            '  return wrk.format("GET", "/session", {["Authorization"] = "Bearer " .. '
            "tokens[(counter % #tokens) + 1]})\nend\n"
        )
        load = wrk(url + "/session", {}, 32, args.seconds * 2, lua)
        time.sleep(6)  # a last_used_at flush (every 5 s) included
        loaded, peak = rss_mb(gw.proc.pid), rss_mb(gw.proc.pid, "VmHWM")
        bare_server = processes.Child([sys.executable, "-c", BARE_HANDLER])
        children.append(bare_server)
        bare_server.first_line()
        bare, _ = script("bare_proxy.py", echo_url)
        children.append(bare)
        time.sleep(1)
        print(f"   gateway idle, ready      {idle:7.0f} MB")
        print(f"   after {load.requests:,} requests   {loaded:7.0f} MB (peak {peak:.0f} MB)"
              + (f"; {load.errors} errors" if load.errors else ""))  # fmt: skip
        print(f"   bare aiohttp server      {rss_mb(bare_server.proc.pid):7.0f} MB")
        print(f"   bare aiohttp proxy       {rss_mb(bare.proc.pid):7.0f} MB")
        print(f"   goal <= 150 MB idle: {'met' if idle <= 150 else 'MISSED'}")
    finally:
        for child in children:
            child.stop()


def big_cpu_rows(tool: Tool, tmp: Path, args: argparse.Namespace, store: Path,
                 secrets: list[str]) -> None:  # fmt: skip
    """CPU per request with the big store, once the token's first use is written
    (a usage write the gateway then holds): each gateway next to the bare proxy,
    over the echo upstream, paired per round."""
    directory = tmp / "project"
    directory.mkdir(exist_ok=True)
    echo, echo_url = script("echo_upstream.py", str(directory))
    children = [echo]
    try:
        headers = {"Authorization": f"Bearer {secrets[0]}"}
        fronts: list[tuple[str, int, str, dict[str, str]]] = []
        trees = [("gateway", tool)]
        if args.before is not None:
            trees.append((BEFORE, Tool(args.before.resolve())))
        for number, (name, tree) in enumerate(trees):
            own = tmp / f"bigcpu-{number}" / store.name  # each its own file: its own writes
            own.parent.mkdir(exist_ok=True)
            shutil.copyfile(store, own)
            gw = tree.gateway(own, echo_url, None, "--access-log", str(tmp / f"{name}.log"))
            children.append(gw)
            url = gw.listening_url()
            wait_answer(url, "/session", headers, time.monotonic() + 60)
            fronts.append((name, gw.proc.pid, url, headers))
        bare, bare_url = script("bare_proxy.py", echo_url)
        children.append(bare)
        fronts.append((BARE, bare.proc.pid, bare_url, {}))
        for _, _, url, front_headers in fronts:
            wrk(url + "/session", front_headers, 1, 1)
        time.sleep(6)  # the first use written (every 5 s), and its racy window passed
        print(f"\n5. CPU per request, {args.tokens:,} tokens, after the token's first use "
              f"was written; {quiet_enough()}")  # fmt: skip
        cells: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, pid, url, front_headers in fronts:
                before = cpu_seconds(pid)
                load = wrk(url + "/session", front_headers, args.connections, args.seconds)
                cells.setdefault(name, []).append(
                    (cpu_seconds(pid) - before) / load.requests * 1000
                )
        for name, _, _, _ in fronts:
            paired = [v / b for v, b in zip(cells[name], cells[BARE], strict=True)]
            print(f"   {name:<26}{spread(cells[name], '{:.3f}'):>22} ms/request"
                  f"{spread(paired):>20} x bare")  # fmt: skip
    finally:
        for child in children:
            child.stop()


BARE_HANDLER = """
import asyncio
from aiohttp import web
async def handle(request):
    return web.Response(status=200)
async def main():
    server = web.Server(handle)
    srv = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def fa_rows(tool: Tool, tmp: Path, args: argparse.Namespace, store: Path,
            secrets: list[str]) -> None:  # fmt: skip
    directory = tmp / "project"
    directory.mkdir(exist_ok=True)
    echo, echo_url = script("echo_upstream.py", str(directory))
    print(f"\n5. forward-auth with {args.tokens:,} tokens, asked from launch; {quiet_enough()}")
    try:
        for _ in range(args.ready_rounds):
            fa_once(tool, store, echo_url, str(directory), secrets[0])
    finally:
        echo.stop()


def fa_once(tool: Tool, store: Path, upstream: str, directory: str, secret: str) -> None:
    from tests.gateway.real_servers import request

    started = time.monotonic()
    child = tool.forward_auth(store, upstream, directory, "--access-log", "off")
    answers: list[tuple[float, float, int]] = []  # (asked, answered, status)
    reasons: set[str] = set()
    stop = threading.Event()
    headers = {
        "Authorization": f"Bearer {secret}",
        "X-Original-Method": "GET",
        "X-Original-URI": "/session",
    }

    def ask() -> None:
        while not stop.is_set():
            asked = time.monotonic() - started
            try:
                status, head, _ = request(url, path="/auth", headers=headers, timeout=10)
            except OSError:
                time.sleep(0.01)
                continue
            answers.append((asked, time.monotonic() - started, status))
            if status != 200:
                reasons.add(head.get("x-auth-error", "")[:120])

    try:
        url = child.listening_url()
        listening = time.monotonic() - started
        asker = threading.Thread(target=ask)
        asker.start()
        time.sleep(max(0.0, 5.0 - (time.monotonic() - started)))
        stop.set()
        asker.join(15)
    finally:
        child.stop()
    within = [a for a in answers if a[1] <= 5.0]
    statuses: dict[int, int] = {}
    for a in within:
        statuses[a[2]] = statuses.get(a[2], 0) + 1
    first = answers[0] if answers else None
    first_ok = next((a for a in answers if a[2] == 200), None)
    longest = max((a[1] - a[0] for a in answers), default=float("nan"))
    shown = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items())) or "none"
    print(f"   listening {listening:.2f} s; first answer "
          + (f"{first[1]:.2f} s ({first[2]})" if first else "none")
          + (f"; first 200 {first_ok[1]:.2f} s" if first_ok else "; no 200")
          + f"; in the first 5 s: {shown}; longest wait {longest:.2f} s"
          + (f"; refusals said {sorted(reasons)}" if reasons else ""))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", nargs="+", default=["cpu", "echo", "memory", "ready", "fa", "bigcpu"]
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ready-rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--key-gap", type=float, default=0.01, help="seconds between keys")
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout's gateway as one more front, in the same run",
    )
    parser.add_argument(
        "--no-uvloop", dest="uvloop", action="store_false", help="no bare proxy on uvloop"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("front_cost_bench: needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    args.uvloop = args.uvloop and importlib.util.find_spec("uvloop") is not None
    tool = Tool(args.root.resolve() if args.root else None)
    print(f"front_cost_bench: the gateway of {tool.root or ROOT}; {os.cpu_count()} CPUs; "
          f"the gateway on {gateway_loop(tool)}; bare proxy on asyncio"
          f"{' and on uvloop' if args.uvloop else ''}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="oat-front-") as folder:
        tmp = Path(folder)
        if "cpu" in args.only:
            cpu_rows(tool, tmp, args)
        if "echo" in args.only:
            echo_rows(tool, tmp, args)
        if {"memory", "ready", "fa", "bigcpu"} & set(args.only):
            store, secrets = big_store(tmp, args.tokens)
            if "memory" in args.only:
                memory_rows(tool, tmp, args, store, secrets)
            if "ready" in args.only:
                ready_rows(tool, tmp, args, store, secrets)
            if "fa" in args.only:
                fa_rows(tool, tmp, args, store, secrets)
            if "bigcpu" in args.only:
                big_cpu_rows(tool, tmp, args, store, secrets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
