"""Fixtures for the Pilot tests (their `async def` tests run under pytest-asyncio:
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.fixtures import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def populated(sandbox: Sandbox) -> Sandbox:
    sandbox.populate()
    return sandbox
