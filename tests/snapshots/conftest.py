"""Fixtures for the snapshot tests: every app runs on a sandboxed, pinned store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.fixtures import Sandbox
from tests.tui.scenarios import SCENARIOS, build


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def snap_scenario(snap_compare: Any, sandbox: Sandbox) -> Callable[[str], bool]:
    """`snap_scenario("main")`: compare the named scenario with its committed SVG."""

    def compare(name: str) -> bool:
        scenario = SCENARIOS[name]
        return bool(
            snap_compare(
                build(scenario, sandbox),
                run_before=scenario.run_before,
                terminal_size=scenario.size,
            )
        )

    return compare
