"""The keys of the app, the main screen, its table and the store-problem screens.

Each key is written once, here, as a Textual `Binding` with an id. Everything
else that shows a key is built from these objects: the screens' `BINDINGS`, the
main screen's footer order (`FOOTER_ORDER`, `FOOTER_DROP`: binding ids), its
"no token to ..." checks, the help screen (`tui.screens.help`), the command
palette (`tui.commands`) and sentences such as "press n to create a token"
(`named`). `tests/tui/test_keys_have_one_source.py` fails when one of them
names a key, an id or an action that no binding has.

A modal's own keys (Cancel, Close, Copy, ...) stay in its class when only its
footer shows them. A modal whose keys are named elsewhere too - in its command
palette (`DetailsKeys`) or in a sentence (`PairingKeys`: "press n for a new
link") - has them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.keys import format_key

# Keys the TUI's sentences write as words: Textual shows them as `esc`, `⏎`, `del`.
_IN_WORDS = frozenset({"escape", "enter", "delete"})


def key_text(key: str) -> str:
    """One key as the TUI's texts write it: `n`, `/`, `?`, `↑`, `pgup`, `ctrl+q`,
    and in words `escape`, `enter`, `delete`."""
    return key if key in _IN_WORDS else format_key(key)


def keys_of(binding: Binding) -> list[str]:
    """The keys a binding is bound to, first (the one texts name) first."""
    return [key.strip() for key in binding.key.split(",")]


def named(binding: Binding) -> str:
    """The binding's first key, as a sentence names it ("press $key to ...")."""
    return key_text(keys_of(binding)[0])


def ids(*bindings: Binding) -> tuple[str, ...]:
    """The ids of `bindings`, in order (for `FOOTER_ORDER` and `FOOTER_DROP`)."""
    found: list[str] = []
    for binding in bindings:
        assert binding.id, binding
        found.append(binding.id)
    return tuple(found)


def actions(bindings: Iterable[Binding]) -> frozenset[str]:
    return frozenset(binding.action for binding in bindings)


class AppKeys:
    QUIT = Binding(
        "ctrl+q",
        "quit",
        "Quit",
        tooltip="Quit and return to the command prompt.",
        show=False,
        priority=True,
        id="app.quit",
    )
    HELP_QUIT = Binding("ctrl+c", "help_quit", show=False, system=True, id="app.help-quit")

    BINDINGS: ClassVar[list[BindingType]] = [QUIT, HELP_QUIT]


class MainKeys:
    NEW = Binding("n", "new_token", "New", id="main.new")
    # P for the CLI's `pair` (a capital: p prunes, and asks first). Shift+p reads
    # as `P` on most terminals, as `shift+p` under the kitty keyboard protocol.
    PAIR = Binding("P,shift+p", "pair_device", "Pair", id="main.pair")
    EDIT = Binding("e", "edit_token", "Edit", id="main.edit")
    DELETE = Binding("d", "delete_token", "Delete", id="main.delete")
    ROTATE = Binding("r", "rotate_token", "Rotate", id="main.rotate")
    PRUNE = Binding("p", "prune", "Prune", id="main.prune")
    COPY_ID = Binding("y", "copy_id", "Copy id", id="main.copy-id")
    DETAILS = Binding("enter", "details", "Details", id="main.details", show=False)
    FILTER = Binding("slash", "filter", "Filter", id="main.filter", key_display="/")
    SORT = Binding("s", "cycle_sort", "Sort", id="main.sort")
    HELP = Binding("question_mark", "help", "Help", id="main.help", key_display="?")
    QUIT = Binding("q", "app.quit", "Quit", id="main.quit")
    CLEAR_FILTER = Binding(
        "escape", "clear_filter", "Clear filter", id="main.clear-filter", key_display="esc"
    )
    DELETE_KEY = Binding("delete", "delete_token", "Delete", show=False, id="main.delete-key")

    BINDINGS: ClassVar[list[BindingType]] = [
        NEW,
        PAIR,
        EDIT,
        DELETE,
        ROTATE,
        PRUNE,
        COPY_ID,
        DETAILS,
        FILTER,
        SORT,
        HELP,
        QUIT,
        CLEAR_FILTER,
        DELETE_KEY,
    ]


class TableKeys:
    # enter opens the details; its footer label says so.
    DETAILS = Binding("enter", "select_cursor", "Details", key_display="⏎", id="tokens.details")
    UP_ARROW = Binding("up", "cursor_up", "Up", show=False, id="tokens.up-arrow")
    DOWN_ARROW = Binding("down", "cursor_down", "Down", show=False, id="tokens.down-arrow")
    # k9s / lazygit / vi keys; home and end go to the first and last token.
    DOWN = Binding("j", "cursor_down", "Down", show=False, id="tokens.down")
    UP = Binding("k", "cursor_up", "Up", show=False, id="tokens.up")
    FIRST = Binding("g", "scroll_top", "First", show=False, id="tokens.first")
    LAST = Binding("G,shift+g", "scroll_bottom", "Last", show=False, id="tokens.last")
    HOME = Binding("home,ctrl+home", "scroll_top", "First", show=False, id="tokens.home")
    END = Binding("end,ctrl+end", "scroll_bottom", "Last", show=False, id="tokens.end")
    PAGE_UP = Binding("pageup", "page_up", "Page up", show=False, id="tokens.page-up")
    PAGE_DOWN = Binding("pagedown", "page_down", "Page down", show=False, id="tokens.page-down")
    LEFT = Binding("left", "scroll_left", "Left", show=False, id="tokens.left")
    RIGHT = Binding("right", "scroll_right", "Right", show=False, id="tokens.right")

    BINDINGS: ClassVar[list[BindingType]] = [
        DETAILS,
        UP_ARROW,
        DOWN_ARROW,
        DOWN,
        UP,
        FIRST,
        LAST,
        HOME,
        END,
        PAGE_UP,
        PAGE_DOWN,
        LEFT,
        RIGHT,
    ]


class DetailsKeys:
    """The details modal: the token's actions, and ending its browser sessions."""

    CLOSE = Binding("escape", "close", "Close", id="details.close")
    Q = Binding("q", "close", "Close", show=False, id="details.q")
    EDIT = Binding("e", "choose('edit')", "Edit", id="details.edit")
    DELETE = Binding("d", "choose('delete')", "Delete", id="details.delete")
    ROTATE = Binding("r", "choose('rotate')", "Rotate", id="details.rotate")
    # l for the CLI's `token logout`: every browser signed in as the token, out.
    END_SESSIONS = Binding("l", "end_sessions", "End sessions", id="details.end-sessions")
    UP = Binding("up,k", "scroll(-1)", "Scroll up", show=False, id="details.up")
    DOWN = Binding("down,j", "scroll(1)", "Scroll down", show=False, id="details.down")
    LEFT = Binding("left", "app.focus_previous", "Previous", show=False, id="details.left")
    RIGHT = Binding("right", "app.focus_next", "Next", show=False, id="details.right")

    BINDINGS: ClassVar[list[BindingType]] = [
        CLOSE,
        Q,
        EDIT,
        DELETE,
        ROTATE,
        END_SESSIONS,
        UP,
        DOWN,
        LEFT,
        RIGHT,
    ]


class PairingKeys:
    """The pairing modal: the link as a QR code, Copy, a new link once it expired."""

    DONE = Binding("escape", "done", "Done", id="pairing.done")
    COPY = Binding("c", "copy", "Copy link", id="pairing.copy")
    NEW_LINK = Binding("n", "new_link", "New link", id="pairing.new-link")
    # the text above the code scrolls on a terminal too small for both
    UP = Binding("up,k", "scroll(-1)", "Scroll up", show=False, id="pairing.up")
    DOWN = Binding("down,j", "scroll(1)", "Scroll down", show=False, id="pairing.down")
    LEFT = Binding("left", "app.focus_previous", "Previous", show=False, id="pairing.left")
    RIGHT = Binding("right", "app.focus_next", "Next", show=False, id="pairing.right")

    BINDINGS: ClassVar[list[BindingType]] = [DONE, COPY, NEW_LINK, UP, DOWN, LEFT, RIGHT]


class StoreErrorKeys:
    RETRY = Binding("r", "retry", "Retry", id="error.retry")
    QUIT = Binding("q", "quit", "Quit", id="error.quit")

    BINDINGS: ClassVar[list[BindingType]] = [RETRY, QUIT]


class LegacyStoreKeys:
    MIGRATE = Binding("m", "migrate", "Migrate", id="legacy.migrate")
    RETRY = Binding("r", "retry", "Retry", show=False, id="legacy.retry")
    QUIT = Binding("q", "quit", "Quit", id="legacy.quit")

    BINDINGS: ClassVar[list[BindingType]] = [MIGRATE, RETRY, QUIT]
