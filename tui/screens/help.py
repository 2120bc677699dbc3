"""The `?` screen: every key, on one page (scrolled on a short terminal).

The keys shown are read from the bindings (`tui.keys`), so the help cannot name
a key that does something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.keys import AppKeys, MainKeys, TableKeys, named
from tui.table_model.sorting import cycle
from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter


@dataclass(frozen=True, slots=True)
class HelpRow:
    """A line of the help: the keys (their first key each), a click that does the
    same, and what they do (`{}` in it: the keys of `mentions`, in order)."""

    keys: tuple[Binding, ...]
    text: str
    click: str | None = None
    separator: str = " / "
    mentions: tuple[Binding, ...] = ()

    @property
    def what(self) -> str:
        return self.text.format(*(named(binding) for binding in self.mentions))

    @property
    def keys_text(self) -> str:
        shown = [named(binding) for binding in self.keys]
        if self.click is not None:
            shown.append(self.click)
        return self.separator.join(shown)


M, T = MainKeys, TableKeys


def help_rows(palette_key: str) -> tuple[HelpRow, ...]:
    """Every key of the main screen, its table and the app, with `palette_key`
    (the app's `COMMAND_PALETTE_BINDING`)."""
    palette = Binding(palette_key, "app.command_palette", "palette", id="app.palette")
    orders = cycle()
    return (
        HelpRow((M.NEW,), "new token: name, note, preset, directories, expiry"),
        HelpRow((M.PAIR,), "pair a device: a token and a one-time link (QR code)"),
        HelpRow((M.EDIT,), "edit the selected token (its secret stays)"),
        HelpRow((M.DELETE, M.DELETE_KEY), "delete the selected token"),
        HelpRow((M.ROTATE,), "rotate: a new secret, and a new expiry if you like"),
        HelpRow((M.PRUNE,), "prune: delete the expired tokens"),
        HelpRow((M.COPY_ID,), "copy the selected token's id"),
        HelpRow((M.DETAILS,), "details of the selected token", click="click"),
        HelpRow((M.FILTER,), "filter by name or id ({} clears)", mentions=(M.CLEAR_FILTER,)),
        HelpRow(
            (M.SORT,),
            # every order is also in the palette, by name; here: how many, and the way back
            f"sort: steps through {len(orders)} orders, then back to {orders[0].description}",
        ),
        HelpRow((), "sort by that column; again: reversed (▲/▼)", click="click a header"),
        HelpRow(
            (T.UP_ARROW, T.DOWN_ARROW, T.DOWN, T.UP),
            "move through the tokens ({}, {}: a page)",
            separator=" ",
            mentions=(T.PAGE_UP, T.PAGE_DOWN),
        ),
        HelpRow((T.FIRST, T.LAST, T.HOME, T.END), "first / last token", separator=" "),
        # one row for both: every key fits on one page at 80 by 24
        HelpRow(
            (palette,), "command palette: every action by name · {} this help", mentions=(M.HELP,)
        ),
        HelpRow((M.QUIT, AppKeys.QUIT), "quit"),
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
                for row in help_rows(self.app.COMMAND_PALETTE_BINDING):
                    with Horizontal(classes="key-row"):
                        yield Static(Content.styled(row.keys_text, "bold $accent"), classes="key")
                        yield Static(Content(row.what), classes="key-description")
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
