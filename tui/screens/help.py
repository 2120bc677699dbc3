"""The `?` screen: every key, on one page."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter

KEYS: tuple[tuple[str, str], ...] = (
    ("n", "new token: name, permissions, expiry"),
    ("d / delete", "delete the selected token"),
    ("r", "rotate: new secret, same id and permissions"),
    ("enter / click", "details of the selected token"),
    ("/", "filter by name or id (escape clears)"),
    ("s", "sort: name, expires, created, last used; again: reversed"),
    ("click a header", "sort by that column; again: reversed (▲/▼)"),
    ("↑ ↓ j k", "move through the tokens (pgup pgdn: a page)"),
    ("g G home end", "first / last token"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q / ctrl+q", "quit"),
)

ABOUT = (
    "Secrets are shown once (create, rotate); the file keeps only digests. read: GET, "
    "HEAD · write: POST, PUT, PATCH, DELETE · execute: sessions, messages, terminals."
)


def keys_table() -> Content:
    width = max(len(key) for key, _ in KEYS) + 2
    lines = [
        Content.assemble((key.ljust(width), "bold $accent"), description)
        for key, description in KEYS
    ]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "#close"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.toggle"),
        Binding("q", "close", "Close", show=False, id="help.q"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static("Keys", classes="dialog-title")
            yield Static(keys_table(), id="keys")
            yield Static(Content(ABOUT), classes="muted", id="about")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Close", id="close", variant="primary")
        yield KeyFooter()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
