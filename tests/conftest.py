"""Every `async def` test runs under pytest-asyncio, within a time limit.

pytest-asyncio runs in strict mode (pyproject.toml): only tests marked `asyncio`
are its own. Every `async def` test is marked as it is collected, before
pytest-asyncio looks at it (this wrapper runs inside pytest-asyncio's), and runs
within `ASYNC_TEST_TIMEOUT` seconds: a test that hangs (a server that never
answers) fails with a timeout instead of hanging the whole run.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest

ASYNC_TEST_TIMEOUT = 120.0

Collected = pytest.Item | pytest.Collector | list[pytest.Item | pytest.Collector] | None


def _bounded(
    test: Callable[..., Coroutine[Any, Any, None]],
) -> Callable[..., Coroutine[Any, Any, None]]:
    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(ASYNC_TEST_TIMEOUT):
            await test(*args, **kwargs)

    return bounded


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Collected, Collected]:
    collected = yield
    for item in collected if isinstance(collected, list) else [collected]:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.add_marker(pytest.mark.asyncio)
            item.obj = _bounded(item.obj)
    return collected
