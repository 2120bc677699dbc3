"""The web app's first load, directly and through the gateway (and nginx + forward-auth),
in one run.

    .venv/bin/python benchmarks/webapp_load_bench.py [--runs 5] [--no-nginx]

One real `opencode serve` (a git project with one session), the real gateway in front
of it, and - when nginx is installed - nginx with the README's auth_request config
asking forward-auth. Each load is a fresh Chromium profile (Debian's chromium, driven
by Playwright) that knows the project, timed from navigation start to the session's
title visible in the list (performance.now(), so the Basic challenge round trip and
every request the app makes before it shows the list are included). Directly the
browser logs in with opencode's password; through the gateway and nginx with a
read+write+execute token as the password.

The loads alternate between the targets, in a rotating order, so that a slow moment
of this machine falls on all of them alike; one warm-up load per target comes first
and is printed but not counted. Each figure is printed next to the direct floor of
the same round, then the medians. Nothing here is a test: the numbers depend on the
machine (a 2-core VM shares its cores between Chromium, opencode and the proxies).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.clients import harness


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted loads per target")
    parser.add_argument("--no-nginx", action="store_true", help="skip nginx + forward-auth")
    args = parser.parse_args(argv)

    real_servers = harness._real_servers()
    binary = real_servers.find_opencode()
    chromium = harness.find_chromium()
    if binary is None or chromium is None or harness.playwright_missing():
        print(
            "needs opencode, /usr/bin/chromium and Playwright: run .ci/install-opencode.sh "
            "and .ci/install-browser.sh, pip install -e '.[test]'",
            file=sys.stderr,
        )
        return 2
    nginx_binary = None if args.no_nginx else real_servers.find_nginx()
    from playwright.sync_api import sync_playwright

    store = Path(tempfile.mkdtemp(prefix="oat-bench-")) / "auth-tokens.json"
    server = harness.start_server(binary)
    fronts: list[harness.Front] = []
    try:
        tokens = harness.make_tokens(store)
        token_login = {"username": "bench", "password": tokens.secrets["rwx"]}
        targets = [("direct", server.url, {"username": "opencode", "password": server.password})]
        fronts.append(harness.start_gateway(tokens, server))
        targets.append(("gateway", fronts[-1].url, token_login))
        if nginx_binary is not None:
            fronts.append(harness.start_nginx_front(tokens, server, nginx_binary))
            targets.append(("nginx", fronts[-1].url, token_login))
        names = [name for name, _, _ in targets]
        times: dict[str, list[float]] = {name: [] for name in names}

        with sync_playwright() as p:

            def load(name: str, url: str, login: dict[str, str]) -> float:
                return harness.first_load_ms(p, chromium, url, login, server.project)

            warm = {name: load(name, url, login) for name, url, login in targets}
            print(f"opencode {harness.opencode_version(binary)}; Chromium, fresh profile per load")
            print("first load: navigation start -> the session list visible (ms)\n")
            print("warm-up   " + "  ".join(f"{n} {warm[n]:7.0f}" for n in names))
            for run in range(args.runs):
                shift = run % len(targets)
                for name, url, login in targets[shift:] + targets[:shift]:
                    times[name].append(load(name, url, login))
                floor = times["direct"][-1]
                cells = [f"direct {floor:7.0f}"]
                for name in names[1:]:
                    value = times[name][-1]
                    cells.append(f"{name} {value:7.0f} ({value - floor:+5.0f} vs direct)")
                print(f"run {run + 1:<5} " + "  ".join(cells))
    finally:
        for front in fronts:
            front.stop()
        harness.stop_server(server)
        shutil.rmtree(store.parent, ignore_errors=True)

    floor = statistics.median(times["direct"])
    print(f"\nmedian of {args.runs}:")
    print(f"  direct   {floor:7.0f} ms")
    for name in names[1:]:
        value = statistics.median(times[name])
        print(
            f"  {name:<8} {value:7.0f} ms  ({value - floor:+.0f} ms, "
            f"{value / floor:.2f}x the direct floor)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
