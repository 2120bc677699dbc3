"""Write one SVG per TUI screen into this folder, from the snapshot tests' scenarios.

    .venv/bin/python screenshots/make_screenshots.py [NAME ...]

Each scenario (`tests/tui/scenarios.py`) builds a pinned store - fixed clock, seeded
secret source, a fake home folder - in a temporary folder, runs the app headless,
presses the scenario's keys and saves what the terminal shows. The pictures match
the committed snapshot SVGs; no real secret can appear in them.
"""

from __future__ import annotations

import re
import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.tui.fixtures import Sandbox  # noqa: E402
from tests.tui.scenarios import SCENARIOS, Scenario, build  # noqa: E402


def render(scenario: Scenario) -> str:
    # The same routine pytest-textual-snapshot uses, so the files match the snapshots.
    from textual._doc import take_svg_screenshot

    with tempfile.TemporaryDirectory() as folder:
        app = build(scenario, Sandbox(Path(folder)))
        svg = take_svg_screenshot(
            app=app, run_before=scenario.run_before, terminal_size=scenario.size
        )
    # Rich gives every export a random id; a stable one keeps regenerated files diffable.
    return re.sub(r"\bterminal-\d+", f"terminal-{zlib.crc32(scenario.name.encode())}", svg)


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
        return 2
    for name in names or list(SCENARIOS):
        scenario = SCENARIOS[name]
        target = HERE / f"{name}.svg"
        target.write_text(render(scenario), encoding="utf-8")
        print(f"{target.relative_to(HERE.parent)}  {scenario.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
