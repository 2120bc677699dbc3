"""The `?` screen: every key, on one page (scrolled on a short terminal)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter

KEYS: tuple[tuple[str, str], ...] = (
    ("n", "new token: name, note, permissions, directories, expiry"),
    ("e", "edit the selected token (its secret stays)"),
    ("d / delete", "delete the selected token"),
    ("r", "rotate: a new secret, and a new expiry if you like"),
    ("p", "prune: delete the expired tokens"),
    ("y", "copy the selected token's id"),
    ("enter / click", "details of the selected token"),
    ("/", "filter by name or id (escape clears)"),
    ("s", "sort: name, expires, created, last used; again: reverse"),
    ("click a header", "sort by that column; again: reversed (▲/▼)"),
    ("↑ ↓ j k", "move through the tokens (pgup, pgdn: a page)"),
    ("g G home end", "first / last token"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q / ctrl+q", "quit"),
)

# Rows the dialog needs around the keys: border, title, buttons, footer.
_CHROME = 2 + 2 + 4 + 1


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "#close"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.toggle"),
        Binding("q", "close", "Close", show=False, id="help.q"),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False, id="help.up"),
        Binding("down,j", "scroll(1)", "Scroll down", show=False, id="help.down"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll(id="help-body"), Vertical(id="keys"):
                for key, description in KEYS:
                    with Horizontal(classes="key-row"):
                        yield Static(Content.styled(key, "bold $accent"), classes="key")
                        yield Static(Content(description), classes="key-description")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Close", id="close", variant="primary")
        yield KeyFooter()

    def on_resize(self) -> None:
        # Everything on one page where it fits; else the keys scroll, and Close stays.
        body = self.query_one("#help-body")
        body.styles.max_height = max(3, self.size.height - _CHROME)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-body").scroll_relative(y=lines, animate=False, immediate=True)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
