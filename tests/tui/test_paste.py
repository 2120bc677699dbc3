"""Pasted text stays text: one Paste event, in order, never a key press, never a submit.

The bug (issue 10): pasting `ev\\x1b[31mil\\nline2` into the Name field created a
token named `^[31milline2ev`. Textual's parser read the pasted ESC as the start
of an escape sequence and replayed what followed as keys (the line break as
Enter), ahead of the rest of the paste. These tests go from the bytes a terminal
sends, through `tui.paste`'s parser, to the form; the driver's input loop, a copy
of Textual's, is held against Textual in `test_paste_mirrors_textual.py`.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from tests.tui.fixtures import Sandbox
from tests.tui.helpers import main_screen, names, screen_text, settle, text_of
from tests.tui.terminal_input import BRACKETED, PASTED, describe, parsed
from tui.paste import PasteSafeLinuxDriver, PasteSafeParser
from tui.screens.confirm import ConfirmScreen
from tui.screens.create import CreateTokenScreen
from tui.screens.main import MainScreen
from tui.widgets.text_field import TextField, paste_text, visible

# --- the parser -----------------------------------------------------------------------


def test_a_paste_is_one_paste_event_with_the_text_as_pasted() -> None:
    assert describe(parsed(PasteSafeParser(), BRACKETED)) == [("paste", PASTED)]


def test_keys_around_a_paste_keep_their_order() -> None:
    got = describe(parsed(PasteSafeParser(), "a" + BRACKETED + "b\x1b[A"))
    assert got == [("key", "a"), ("paste", PASTED), ("key", "b"), ("key", "up")]


def test_a_paste_split_across_reads_anywhere_is_the_same_paste() -> None:
    stream = "x" + BRACKETED + "y"
    for cut in range(1, len(stream)):
        got = describe(parsed(PasteSafeParser(), stream[:cut], stream[cut:]))
        assert got == [("key", "x"), ("paste", PASTED), ("key", "y")], cut


def test_a_paste_read_one_character_at_a_time() -> None:
    stream = BRACKETED + BRACKETED.replace("ev", "second")
    got = describe(parsed(PasteSafeParser(), *stream))
    assert got == [("paste", PASTED), ("paste", PASTED.replace("ev", "second"))]


def test_nul_is_dropped_and_an_unfinished_paste_is_delivered_at_the_end() -> None:
    assert describe(parsed(PasteSafeParser(), "\x1b[200~a\x00b\x1b[201~")) == [("paste", "ab")]
    assert describe(parsed(PasteSafeParser(), "\x1b[200~abc")) == [("paste", "abc")]


@pytest.mark.skipif(sys.platform == "win32", reason="Linux and macOS driver")
def test_the_app_uses_the_paste_safe_driver(sandbox: Sandbox) -> None:
    assert sandbox.app().driver_class is PasteSafeLinuxDriver


# --- the fields ---------------------------------------------------------------------------


def test_visible_stands_in_one_character_for_one() -> None:
    assert visible(PASTED) == "ev␛[31mil␊line2"
    assert len(visible(PASTED)) == len(PASTED)
    assert visible("a\u202eb\x7f\x9b") == "a\ufffdb␡\ufffd"
    assert visible("plain ünïcode") == "plain ünïcode"


def test_a_paste_loses_only_the_line_break_that_ends_a_copied_line() -> None:
    assert paste_text("ci-deploy\n") == "ci-deploy"
    assert paste_text("ci-deploy\r\n") == "ci-deploy"
    assert paste_text("a\nb\n") == "a\nb"
    assert paste_text(PASTED) == PASTED


async def paste(pilot: Pilot[Any], text: str) -> None:
    """As the driver delivers a paste: a Paste event posted to the app."""
    pilot.app.post_message(events.Paste(text))
    await settle(pilot)


async def open_form(pilot: Pilot[Any]) -> CreateTokenScreen:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CreateTokenScreen)
    return screen


async def test_pasting_esc_and_a_line_break_into_the_name_never_submits(
    populated: Sandbox,
) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_form(pilot)
        await paste(pilot, PASTED)
        assert app.screen is screen, "the paste must not submit the form"
        name = screen.query_one("#name", Input)
        assert name.value == PASTED, "inserted whole and in order"
        feedback = text_of(screen.query_one("#name-feedback", Static))
        assert "control character U+001B" in feedback
        text = screen_text(pilot)
        assert "ev␛[31mil␊line2" in text, "the field shows what it holds"
        assert "\x1b" not in text and "^[31m" not in text
        await pilot.click("#create")
        await settle(pilot)
        assert app.screen is screen, "and Create refuses it"
        assert app.focused is name
    assert populated.path.read_bytes() == before


async def test_pasting_a_copied_line_into_the_name_fills_it_in(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_form(pilot)
        await pilot.press(*"ci-")
        await paste(pilot, "deploy\n")
        assert app.screen is screen
        assert screen.query_one("#name", Input).value == "ci-deploy"
        await pilot.press("enter")  # typed Enter still creates
        await settle(pilot)
    assert [r.name for r in sandbox.store().tokens()] == ["ci-deploy"]


async def test_every_input_of_every_form_takes_a_paste_as_text(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_form(pilot)
        screen.query_one("#expiry", Select).value = "custom"
        await settle(pilot)
        custom = screen.query_one("#custom-expiry", Input)
        assert app.focused is custom
        await paste(pilot, "30d\nrm -rf\r")
        assert app.screen is screen
        assert custom.value == "30d\nrm -rf"
        await pilot.press("escape")  # the form was filled in: asked first
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("slash")
        await paste(pilot, "ag\x1b\r")
        assert main_screen(pilot).query_one("#filter", Input).value == "ag\x1b"
        assert isinstance(app.screen, MainScreen)
    assert all(isinstance(field, TextField) for field in (custom,))


async def test_a_paste_on_the_table_presses_no_key(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = names(pilot)
        await paste(pilot, "\x1bnd\r\x1b[201~d")
        assert isinstance(app.screen, MainScreen), "no n (new) or d (delete) was pressed"
        assert names(pilot) == shown
    assert populated.path.read_bytes() == before
