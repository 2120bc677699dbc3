"""How the TUI copes with a big store: 10,000 tokens.

    .venv/bin/python benchmarks/tui_bench.py [--tokens N] [--keys TEXT]

Prints, for a store of N tokens (default 10,000):

- launch: from creating the app (store not yet read) to the first token rows
  painted by the table (goal: 1.5 s or less); the import time of the TUI in a
  fresh interpreter is printed separately;
- filter: for each key typed into the filter, the time from the key reaching the
  app to the table's first repaint showing the new rows, and the part of it spent
  updating the table (goal: 100 ms or less per keystroke).

No assertions: the numbers depend on the machine. Rendering runs headless (Textual
still composes every frame; only the terminal write is skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events

from tests.tui.fixtures import NOW, FakeClipboard, Sandbox, many_records
from tui.app import AuthApp
from tui.screens.main import MainScreen
from tui.widgets.token_table import TokenTable


class Clock:
    """Record when the table last painted data rows, and how long table updates take."""

    def __init__(self) -> None:
        self.painted: float | None = None
        self.painted_version = -1  # the table's _update_count at that paint
        self.updates: list[float] = []

    def install(self) -> None:
        original_render = TokenTable.render_lines
        original_show = MainScreen._show_rows
        clock = self

        def render_lines(table: TokenTable, crop: Any) -> Any:
            lines = original_render(table, crop)
            if table.row_count and crop.height > 1:
                clock.painted = time.perf_counter()
                clock.painted_version = table._update_count
            return lines

        def show_rows(screen: MainScreen, *, keep: str | None) -> None:
            start = time.perf_counter()
            original_show(screen, keep=keep)
            clock.updates.append(time.perf_counter() - start)

        TokenTable.render_lines = render_lines  # type: ignore[method-assign,assignment]
        MainScreen._show_rows = show_rows  # type: ignore[method-assign,assignment]


def type_key(app: AuthApp, key: str) -> None:
    """Deliver a key as the terminal driver would (Pilot.press adds idle waits of its
    own, about 90 ms, which would swamp what is measured here)."""
    driver = app._driver
    assert driver is not None
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    driver.send_message(event)


async def wait_for_paint(
    clock: Clock, after: float, newer_than: int = -1, timeout: float = 10.0
) -> float:
    """When the table next paints rows, after `after` and showing a table version
    newer than `newer_than` (so a repaint of the old rows does not count)."""
    deadline = time.perf_counter() + timeout
    while clock.painted is None or clock.painted < after or clock.painted_version <= newer_than:
        if time.perf_counter() > deadline:
            raise TimeoutError("the table did not repaint")
        await asyncio.sleep(0.0005)
    return clock.painted


def import_time() -> float:
    """Seconds a fresh interpreter takes to import the TUI (Textual included)."""
    root = Path(__file__).resolve().parents[1]
    code = "import time; t = time.perf_counter(); import tui.app; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return float(done.stdout)


async def run(count: int, typed: str) -> None:
    clock = Clock()
    clock.install()
    with tempfile.TemporaryDirectory() as folder:
        sandbox = Sandbox(Path(folder))
        sandbox.write_records(many_records(count))
        size = sandbox.path.stat().st_size
        print(f"store: {count:,} tokens, {size / 1e6:.1f} MB")
        print(f"import tui.app in a fresh interpreter: {import_time() * 1000:7.1f} ms")

        started = time.perf_counter()
        app = AuthApp(
            sandbox.store(now=NOW),
            poll_interval=None,
            clipboard=FakeClipboard(),
            home=sandbox.home,
            cursor_blink=False,
        )
        async with app.run_test(size=(120, 36)) as pilot:
            painted = await wait_for_paint(clock, started)
            print(
                f"launch to first rows painted: {(painted - started) * 1000:7.1f} ms  (goal 1500)"
            )
            await pilot.press("slash")
            await pilot.pause()
            table = app.screen.query_one(TokenTable)
            end_to_end: list[float] = []
            updates: list[float] = []
            for key in typed:
                clock.updates.clear()
                await pilot.pause()
                version = table._update_count
                pressed = time.perf_counter()
                type_key(app, key)
                painted = await wait_for_paint(clock, pressed, version)
                shown = table.row_count
                end_to_end.append(painted - pressed)
                updates.append(sum(clock.updates))
                print(
                    f"  key {key!r}: {shown:6,} rows  key to repaint "
                    f"{end_to_end[-1] * 1000:6.1f} ms  (table update {updates[-1] * 1000:5.1f} ms)"
                )
            await pilot.pause()
            version = table._update_count
            pressed = time.perf_counter()
            type_key(app, "escape")
            painted = await wait_for_paint(clock, pressed, version)
            print(f"  escape (all rows back): key to repaint {(painted - pressed) * 1000:6.1f} ms")
            median = statistics.median(end_to_end) * 1000
            print(
                f"filter keystroke, key to repaint: median {median:.1f} ms, "
                f"worst {max(end_to_end) * 1000:.1f} ms  (goal 100)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--keys", default="service-01", help="typed into the filter, one by one")
    args = parser.parse_args()
    asyncio.run(run(args.tokens, args.keys))


if __name__ == "__main__":
    main()
