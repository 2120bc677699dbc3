"""The servers run on uvloop when it is installed (the `gateway` extra), on
asyncio's own loop when it is not or when OPENCODE_AUTH_TUI_LOOP=asyncio; and
start-up's objects are frozen out of the collector's way (core/gateway/eventloop.py)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util

import pytest

from core.gateway import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.CHOICE, raising=False)
    installed = importlib.util.find_spec("uvloop") is not None
    assert eventloop.loop_name() == ("uvloop" if installed else "asyncio")
    assert eventloop.run(_loop_module()).startswith("uvloop" if installed else "asyncio")


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(eventloop.CHOICE, value)
    assert eventloop.loop_factory() is None
    assert eventloop.run(_loop_module()).startswith("asyncio")


def test_settle_freezes_what_start_up_made() -> None:
    made = [[i] for i in range(1000)]  # lists: tracked by the collector
    try:
        before = gc.get_freeze_count()
        eventloop.settle()
        assert gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
