"""Changes made by another process (the CLI in another terminal) show up by themselves."""

from __future__ import annotations

import os
from typing import Any

from textual.pilot import Pilot

from tests.tui.fixtures import Sandbox
from tests.tui.helpers import main_screen, names, notes, selected_name, settle, table
from tui.screens.store_error import StoreErrorScreen


async def wait_for(pilot: Pilot[Any], condition: Any, timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.05)):
        await settle(pilot)
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


async def test_external_create_appears_and_the_cursor_stays(populated: Sandbox) -> None:
    app = populated.app(poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        assert selected_name(pilot) == "laptop"
        assert names(pilot).index("laptop") == 2
        other = populated.store()  # a second TokenStore on the same file
        other.create(name="aardvark", permissions="read")
        await wait_for(pilot, lambda: "aardvark" in names(pilot))
        assert names(pilot)[0] == "aardvark"
        assert names(pilot).index("laptop") == 3
        assert selected_name(pilot) == "laptop", "the cursor follows the token, not the row"


async def test_external_delete_of_the_selected_token(populated: Sandbox) -> None:
    app = populated.app(poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        populated.store().delete(["laptop"])
        await wait_for(pilot, lambda: "laptop" not in names(pilot))
        assert table(pilot).cursor_row == 2, "the cursor stays on the same row"


async def test_polling_only_stats_until_the_file_changes(populated: Sandbox) -> None:
    app = populated.app(poll_interval=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        reads = []
        original = screen.store.load

        def counting_load() -> Any:
            reads.append(1)
            return original()

        screen.store.load = counting_load  # type: ignore[method-assign]
        await pilot.pause(0.2)
        assert reads == []
        populated.store().create(name="zebra")
        await wait_for(pilot, lambda: "zebra" in names(pilot))
        assert len(reads) == 1


async def test_a_file_that_turns_bad_opens_the_error_screen(populated: Sandbox) -> None:
    app = populated.app(poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        populated.corrupt()
        await wait_for(pilot, lambda: isinstance(app.screen, StoreErrorScreen))


async def test_a_group_readable_file_is_warned_about(populated: Sandbox) -> None:
    os.chmod(populated.path, 0o644)
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        [(title, message, severity)] = notes(pilot)
        assert title == "Store file permissions" and severity == "warning"
        assert "chmod 600" in message
