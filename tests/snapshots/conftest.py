"""Fixtures for the snapshot tests: every app runs on a sandboxed, pinned store.

The SVGs live in `tests/__snapshots__/test_snapshots/` (the repository's convention),
not in syrupy's default folder next to this package: `snapshot` is wrapped so
pytest-textual-snapshot's SVG extension stores them there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension  # type: ignore[import-untyped]
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from tests.tui.fixtures import Sandbox
from tests.tui.scenarios import SCENARIOS, build

SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "__snapshots__"


class _SharedFolderSVG(SVGImageExtension):  # type: ignore[misc]  # untyped plugin
    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SNAPSHOT_DIR / test_location.basename)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    use_extension = snapshot.use_extension

    def use_shared_folder(extension_class: Any = None) -> SnapshotAssertion:
        if extension_class is SVGImageExtension:
            extension_class = _SharedFolderSVG
        return use_extension(extension_class)

    snapshot.use_extension = use_shared_folder  # type: ignore[method-assign]
    return snapshot


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
