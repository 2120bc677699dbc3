"""Fixtures for the Pilot tests, and a runner for `async def` tests.

The dev environment has no pytest-asyncio or anyio plugin (and needs none): an
`async def` test here runs in a fresh event loop via `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from tests.tui.fixtures import Sandbox


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def populated(sandbox: Sandbox) -> Sandbox:
    sandbox.populate()
    return sandbox
