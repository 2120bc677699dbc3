"""Small helpers shared by the Pilot tests."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Static

from tui.screens.main import MainScreen
from tui.screens.secret import SecretScreen
from tui.widgets.token_table import TokenTable


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and their messages be handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def main_screen(pilot: Pilot[Any]) -> MainScreen:
    for screen in pilot.app.screen_stack:
        if isinstance(screen, MainScreen):
            return screen
    raise AssertionError(f"no main screen in {pilot.app.screen_stack}")


def table(pilot: Pilot[Any]) -> TokenTable:
    return main_screen(pilot).query_one(TokenTable)


def names(pilot: Pilot[Any]) -> list[str]:
    """The name column, top to bottom, as displayed."""
    shown = table(pilot)
    return [shown.get_row_at(i)[0].plain for i in range(shown.row_count)]


def selected_name(pilot: Pilot[Any]) -> str | None:
    record = main_screen(pilot).selected
    return None if record is None else record.name


def screen_text(pilot: Pilot[Any]) -> str:
    """Everything on the terminal, as plain text, one line per row."""
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


def notes(pilot: Pilot[Any]) -> list[tuple[str, str, str]]:
    """(title, message, severity) of every notification so far."""
    return [(n.title, n.message, n.severity) for n in pilot.app._notifications]


def text_of(widget: Static) -> str:
    visual = widget.visual
    return visual.plain if isinstance(visual, Content) else str(visual)


def shown_secret(pilot: Pilot[Any]) -> str:
    """The token text in the secret modal (what the user reads off the screen)."""
    screen = pilot.app.screen
    assert isinstance(screen, SecretScreen), screen
    return text_of(screen.query_one("#token", Static))
