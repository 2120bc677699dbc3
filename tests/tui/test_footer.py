"""The footer shows the keys of the screen in front, and always fits on its line."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.fixtures import Sandbox
from tests.tui.helpers import screen_text, settle
from tui.widgets.key_footer import KeyFooter

MAIN_KEYS = ("n New", "e Edit", "d Delete", "r Rotate", "s Sort")


def footer_line(pilot: Pilot[Any]) -> str:
    return screen_text(pilot).splitlines()[-1]


def footer_fits(pilot: Pilot[Any]) -> None:
    footer = pilot.app.screen.query_one(KeyFooter)
    assert footer.max_scroll_x == 0, "a key runs off the right edge"
    line = footer_line(pilot)
    assert line.rstrip().endswith("▏^p palette"), line
    assert len(line) == pilot.app.size.width


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("n",), ["esc Cancel"]),
        (("e",), ["esc Cancel"]),
        (("enter", "e"), ["esc Cancel"]),
        (("enter",), ["esc Close", "e Edit", "d Delete", "r Rotate"]),
        (("d",), ["esc Cancel"]),
        (("r",), ["esc Cancel"]),
        (("question_mark",), ["esc Close"]),
        (("n", *"deploy-bot", "enter"), ["esc Done", "c Copy"]),
        (("n", *"deploy-bot", "enter", "escape"), ["esc Cancel"]),
    ],
)
async def test_a_modal_shows_its_own_keys_not_the_main_screens(
    populated: Sandbox, keys: tuple[str, ...], expected: list[str]
) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert all(key in footer_line(pilot) for key in MAIN_KEYS)
        await pilot.press(*keys)
        await settle(pilot)
        line = footer_line(pilot)
        for key in expected:
            assert key in line, (key, line)
        for key in MAIN_KEYS:
            if key not in expected:
                assert key not in line, (key, line)
        footer_fits(pilot)


@pytest.mark.parametrize("size", [(80, 24), (60, 20), (120, 36)])
@pytest.mark.parametrize("filtering", [False, True])
async def test_the_main_footer_fits_with_or_without_a_filter(
    populated: Sandbox, size: tuple[int, int], filtering: bool
) -> None:
    app = populated.app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if filtering:
            await pilot.press("slash", "a", "g", "enter")  # enter: back to the table
            await settle(pilot)
        footer_fits(pilot)
        line = footer_line(pilot)
        assert "? Help" in line and "n New" in line
        assert ("esc Clear filter" in line) is filtering


async def test_the_footer_refits_when_the_terminal_is_resized(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "q Quit" in footer_line(pilot)
        await pilot.resize_terminal(60, 20)
        await settle(pilot)
        footer_fits(pilot)
        assert "q Quit" not in footer_line(pilot), "left out at 60 columns"
        await pilot.resize_terminal(120, 36)
        await settle(pilot)
        assert "q Quit" in footer_line(pilot)


async def test_the_store_error_screen_has_its_keys_too(sandbox: Sandbox) -> None:
    sandbox.corrupt()
    app = sandbox.app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        assert footer_line(pilot).startswith("r Retry q Quit")
        footer_fits(pilot)
