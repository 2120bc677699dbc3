"""The TUI on a database store: it shows the masked URL, follows changes made
elsewhere (the store's version marker, fed by LISTEN/NOTIFY), and a database
that cannot be reached opens the error screen, which recovers by itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from core.store.pg.engine import PostgresStore
from tests.tui.fixtures import FakeClipboard
from tests.tui.helpers import names, screen_text, settle
from tui.app import AuthApp
from tui.screens.main import MainScreen
from tui.screens.store_error import StoreErrorScreen


async def until(pilot: Pilot[Any], holds: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not holds():
        assert time.monotonic() < deadline, screen_text(pilot)
        await asyncio.sleep(0.05)
        await settle(pilot)


def app_on(store: PostgresStore, home: Path) -> AuthApp:
    return AuthApp(store, poll_interval=0.1, clipboard=FakeClipboard(), home=home)


async def _test_the_tui_follows_the_database(pg_url: str, tmp_path: Path) -> None:
    store = PostgresStore(pg_url)
    store.create(name="first")
    app = app_on(store, tmp_path)
    try:
        async with app.run_test(size=(100, 24)) as pilot:
            await until(pilot, lambda: names(pilot) == ["first"])
            assert app.screen.sub_title == store.location
            assert store.location.startswith("postgresql://postgres@/")
            other = PostgresStore(pg_url)  # the CLI on another host
            other.create(name="second")
            other.delete(["first"])
            other.close()
            await until(pilot, lambda: names(pilot) == ["second"])
    finally:
        store.close()


async def _test_an_unreachable_database_opens_the_error_screen(tmp_path: Path) -> None:
    store = PostgresStore(f"postgresql://postgres@/tokens?host={tmp_path}")
    app = app_on(store, tmp_path)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, StoreErrorScreen))
            await until(pilot, lambda: "Database" in screen_text(pilot))
            text = screen_text(pilot)
            assert "Database" in text and "cannot connect to the database" in text
            assert "Nothing was written in the database" in text
    finally:
        store.close()


async def _test_the_error_screen_recovers_when_the_schema_appears(
    pg_empty_url: str, tmp_path: Path
) -> None:
    store = PostgresStore(pg_empty_url)
    app = app_on(store, tmp_path)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: "db init" in screen_text(pilot))
            other = PostgresStore(pg_empty_url)
            other.init_schema()
            other.create(name="made-elsewhere")
            other.close()
            await until(pilot, lambda: isinstance(app.screen, MainScreen))
            await until(pilot, lambda: names(pilot) == ["made-elsewhere"])
    finally:
        store.close()


def test_the_tui_follows_the_database(pg_url: str, tmp_path: Path) -> None:
    asyncio.run(_test_the_tui_follows_the_database(pg_url, tmp_path))


def test_an_unreachable_database_opens_the_error_screen(tmp_path: Path) -> None:
    asyncio.run(_test_an_unreachable_database_opens_the_error_screen(tmp_path))


def test_the_error_screen_recovers_when_the_schema_appears(
    pg_empty_url: str, tmp_path: Path
) -> None:
    asyncio.run(_test_the_error_screen_recovers_when_the_schema_appears(pg_empty_url, tmp_path))
