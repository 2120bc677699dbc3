"""How the TUI copes with a big store: 10, 1,000, 10,000 and 100,000 tokens.

    .venv/bin/python benchmarks/tui_bench.py [--tokens 10 1000 10000 100000]
                                             [--runs 3] [--keys TEXT]

For each store size, each run in a fresh interpreter (so every first paint is a
cold one), and the medians of the runs printed next to their goals (issue 11):

- first paint: from creating the app (store not yet read) to the first token
  rows painted by the table; goal 2 s at 100k tokens, 500 ms at 10k. Printed with
  the part of it spent in `TokenStore.load()` (reading and parsing the file:
  core's cost, not the TUI's) and the rest (the UI);
- filter keystroke: for each key typed into the filter, the time from the key
  reaching the app to the table's first repaint showing the new rows (median and
  worst over the keys), and the part of it spent updating the table; goal 100 ms;
- escape: clearing the filter, all rows back.

The default keys, `service-0000`, narrow the filter step by step (`s` matches
every token) and always match at least one token at every size. The import time
of the TUI in a fresh interpreter is printed once.

No assertions: the numbers depend on the machine (a shared one is noisy: use
the medians). Rendering runs headless (Textual still composes every frame; only
the terminal write is skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (10, 1_000, 10_000, 100_000)
FIRST_PAINT_GOAL = {100_000: 2000.0, 10_000: 500.0}  # ms
KEYSTROKE_GOAL = 100.0  # ms, at every size


# --- one run, in its own interpreter ------------------------------------------------


class Clock:
    """When the table last painted rows, how long table updates and store loads took."""

    def __init__(self) -> None:
        self.painted: float | None = None
        self.painted_version = -1  # the table's version at that paint
        self.updates: list[float] = []
        self.loads: list[float] = []

    def install(self) -> None:
        from core.store import TokenStore
        from tui.screens.main import MainScreen
        from tui.widgets.token_table import TokenTable

        original_render = TokenTable.render_lines
        original_show = MainScreen._show_rows
        original_load = TokenStore.load
        clock = self

        def render_lines(table: TokenTable, crop: Any) -> Any:
            lines = original_render(table, crop)
            if table.row_count and crop.height > 1:
                clock.painted = time.perf_counter()
                clock.painted_version = table_version(table)
            return lines

        def show_rows(screen: MainScreen, *args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            original_show(screen, *args, **kwargs)
            clock.updates.append(time.perf_counter() - start)

        def load(store: TokenStore) -> Any:
            start = time.perf_counter()
            try:
                return original_load(store)
            finally:
                clock.loads.append(time.perf_counter() - start)

        TokenTable.render_lines = render_lines  # type: ignore[method-assign,assignment]
        MainScreen._show_rows = show_rows  # type: ignore[method-assign,assignment]
        TokenStore.load = load  # type: ignore[method-assign,assignment]


def table_version(table: Any) -> int:
    """A number that changes whenever the table's rows are replaced."""
    version = getattr(table, "version", None)
    return int(version if version is not None else table._update_count)


def type_key(app: Any, key: str) -> None:
    """Deliver a key as the terminal driver would (Pilot.press adds idle waits of its
    own, about 90 ms, which would swamp what is measured here)."""
    from textual import events

    driver = app._driver
    assert driver is not None
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    driver.send_message(event)


async def wait_for_paint(
    clock: Clock, after: float, newer_than: int = -1, timeout: float = 60.0
) -> float:
    """When the table next paints rows, after `after` and showing a table version
    newer than `newer_than` (so a repaint of the old rows does not count)."""
    deadline = time.perf_counter() + timeout
    while clock.painted is None or clock.painted < after or clock.painted_version <= newer_than:
        if time.perf_counter() > deadline:
            raise TimeoutError("the table did not repaint")
        await asyncio.sleep(0.0005)
    return clock.painted


async def one_run(root: Path, typed: str) -> dict[str, Any]:
    clock = Clock()
    clock.install()
    from tests.tui.fixtures import NOW, FakeClipboard, Sandbox
    from tui.app import AuthApp
    from tui.widgets.token_table import TokenTable

    sandbox = Sandbox(root)
    started = time.perf_counter()
    app = AuthApp(
        sandbox.store(now=NOW),
        poll_interval=None,
        clipboard=FakeClipboard(),
        home=sandbox.home,
        cursor_blink=False,
    )
    result: dict[str, Any] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        painted = await wait_for_paint(clock, started)
        result["first_paint"] = painted - started
        result["load"] = sum(clock.loads)
        await pilot.press("slash")
        await pilot.pause()
        table = app.screen.query_one(TokenTable)
        keys: list[dict[str, Any]] = []
        for key in typed:
            clock.updates.clear()
            await pilot.pause()
            version = table_version(table)
            pressed = time.perf_counter()
            type_key(app, key)
            painted = await wait_for_paint(clock, pressed, version)
            keys.append(
                {
                    "key": key,
                    "rows": table.row_count,
                    "repaint": painted - pressed,
                    "update": sum(clock.updates),
                }
            )
        result["keys"] = keys
        await pilot.pause()
        version = table_version(table)
        pressed = time.perf_counter()
        type_key(app, "escape")
        painted = await wait_for_paint(clock, pressed, version)
        result["escape"] = painted - pressed
    return result


# --- the driver: store files, runs, medians -----------------------------------------


def import_time() -> float:
    """Seconds a fresh interpreter takes to import the TUI (Textual included)."""
    code = "import time; t = time.perf_counter(); import tui.app; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def make_store(root: Path, count: int) -> int:
    from tests.tui.fixtures import Sandbox, many_records

    sandbox = Sandbox(root)
    sandbox.write_records(many_records(count))
    return sandbox.path.stat().st_size


def run_in_child(root: Path, typed: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), "--keys", typed],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"a run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def goal(value: float | None) -> str:
    return f"(goal {value:.0f})" if value is not None else ""


def report(count: int, runs: list[dict[str, Any]]) -> dict[str, float]:
    first = [r["first_paint"] for r in runs]
    loads = [r["load"] for r in runs]
    ui = [r["first_paint"] - r["load"] for r in runs]
    key_medians = [median([k["repaint"] for k in r["keys"]]) for r in runs]
    key_worst = [max(k["repaint"] for k in r["keys"]) for r in runs]
    update_medians = [median([k["update"] for k in r["keys"]]) for r in runs]
    escape = [r["escape"] for r in runs]
    summary = {
        "first_paint": median(first),
        "load": median(loads),
        "ui": median(ui),
        "key": median(key_medians),
        "key_worst": median(key_worst),
        "update": median(update_medians),
        "escape": median(escape),
    }
    print(f"  runs: {len(runs)}; first paint of each: {', '.join(ms(f).strip() for f in first)} ms")
    print(
        f"  first paint           {ms(summary['first_paint'])} ms  "
        f"{goal(FIRST_PAINT_GOAL.get(count))}"
    )
    print(f"    of which store load {ms(summary['load'])} ms  (TokenStore.load: core)")
    print(f"    and the UI          {ms(summary['ui'])} ms")
    print(f"  filter keystroke      {ms(summary['key'])} ms median  {goal(KEYSTROKE_GOAL)}")
    print(f"    worst key           {ms(summary['key_worst'])} ms")
    print(f"    table update        {ms(summary['update'])} ms median")
    print(f"  escape (all rows)     {ms(summary['escape'])} ms")
    print("  per key (last run):", end="")
    for key in runs[-1]["keys"]:
        print(f" {key['key']!r}:{key['rows']}:{key['repaint'] * 1000:.0f}", end="")
    print()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per size")
    parser.add_argument("--keys", default="service-0000", help="typed into the filter")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(one_run(args.child, args.keys))))
        return
    print(f"import tui.app in a fresh interpreter: {ms(import_time())} ms")
    table: list[tuple[int, dict[str, float]]] = []
    for count in args.tokens:
        with tempfile.TemporaryDirectory() as folder:
            size = make_store(Path(folder), count)
            print(f"store: {count:,} tokens, {size / 1e6:.1f} MB")
            runs = [run_in_child(Path(folder), args.keys) for _ in range(args.runs)]
            table.append((count, report(count, runs)))
    print()
    print("| tokens | first paint | store load | UI | keystroke (median / worst) | goal |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for count, s in table:
        goals = (
            f"first paint ≤ {FIRST_PAINT_GOAL[count]:.0f} ms, " if count in FIRST_PAINT_GOAL else ""
        )
        print(
            f"| {count:,} | {s['first_paint'] * 1000:.0f} ms | {s['load'] * 1000:.0f} ms | "
            f"{s['ui'] * 1000:.0f} ms | {s['key'] * 1000:.0f} / {s['key_worst'] * 1000:.0f} ms | "
            f"{goals}keystroke ≤ {KEYSTROKE_GOAL:.0f} ms |"
        )


if __name__ == "__main__":
    main()
