"""Small helpers shared by the Pilot tests: what the terminal shows, what was said.

They read the app through Textual's public API only: the screen's text from the
SVG screenshot Textual exports (`App.export_screenshot`, as a snapshot does), and
the notifications through `App.notify`, the one way anything is shown in a toast.
"""

from __future__ import annotations

import html
import re
from typing import Any
from weakref import WeakKeyDictionary

from rich.cells import cell_len
from textual.app import App
from textual.content import Content
from textual.notifications import SeverityLevel
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


# Rich's SVG export: one <text> per run of characters, placed in cells (x) on a
# line (its clip path); blank runs have no <text>. The first line's clip
# rectangle is as wide as the terminal, which gives the width of a cell.
_LINE_WIDTH = re.compile(r'<clipPath id="[\w-]+-line-0">\s*<rect x="0" y="[\d.]+" width="([\d.]+)"')
_TEXT = re.compile(
    r'<text [^>]*\bx="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)">(.*?)</text>'
)


def screen_lines(svg: str, width: int, height: int) -> list[str]:
    """The terminal's rows as plain text, from an SVG screenshot `width` cells wide."""
    found = _LINE_WIDTH.search(svg)
    assert found is not None, "not a Rich SVG screenshot"
    cell = float(found.group(1)) / width
    rows = [[" "] * width for _ in range(height)]
    for x, line, text in _TEXT.findall(svg):
        row, column = rows[int(line)], round(float(x) / cell)
        for char in html.unescape(text).replace("\xa0", " "):
            cells = [char] + [""] * (cell_len(char) - 1)  # a wide character: two cells
            row[column : column + len(cells)] = cells
            column += len(cells)
    return ["".join(row) for row in rows]


def screen_text(pilot: Pilot[Any]) -> str:
    """Everything on the terminal, as plain text, one line per row."""
    app = pilot.app
    if not app.screen.is_mounted or not app.screen.size.area:
        return ""  # not laid out yet: exporting now would disturb its first compose
    return "\n".join(screen_lines(app.export_screenshot(), app.size.width, app.size.height))


Notified = tuple[str, str, SeverityLevel]
_HEARD: WeakKeyDictionary[App[Any], list[Notified]] = WeakKeyDictionary()


def listen_for_notifications(app: App[Any]) -> None:
    """Record every notification `app` shows from now on, for `notes`."""
    heard = _HEARD.setdefault(app, [])
    show = app.notify

    def notify(
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        heard.append((title, message, severity))
        show(message, title=title, severity=severity, timeout=timeout, markup=markup)

    vars(app)["notify"] = notify  # an instance attribute: this app's notify only


def notes(pilot: Pilot[Any]) -> list[Notified]:
    """(title, message, severity) of every notification so far (of an app from
    `Sandbox.app`, which listens for them)."""
    return list(_HEARD[pilot.app])


def text_of(widget: Static) -> str:
    visual = widget.visual
    return visual.plain if isinstance(visual, Content) else str(visual)


def shown_secret(pilot: Pilot[Any]) -> str:
    """The token text in the secret modal (what the user reads off the screen)."""
    screen = pilot.app.screen
    assert isinstance(screen, SecretScreen), screen
    return text_of(screen.query_one("#token", Static))
