"""`tui.paste` still matches the Textual it copies, and is still needed.

`tui.paste` replaces the input loop of Textual's Linux driver to give it another
parser (its docstring says why no supported hook does this). These tests hold
that copy against the installed Textual, so they use Textual's private parts on
purpose - they are what the copy depends on. When one of them fails after a
Textual upgrade: compare `LinuxDriver.run_input_thread` with the copy, carry the
changes over, check whether the upgrade fixed the parser (then `tui.paste` can
go), and set `MIRRORS_TEXTUAL` to the new version.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
import threading
from importlib.metadata import version
from typing import Any

from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from tests.tui.terminal_input import BRACKETED, PASTED, describe, parsed
from tui.paste import MIRRORS_TEXTUAL, PasteSafeLinuxDriver, PasteSafeParser


def test_the_installed_textual_is_the_one_copied() -> None:
    assert version("textual") == MIRRORS_TEXTUAL


def test_textuals_own_parser_still_turns_the_paste_into_key_presses() -> None:
    """The mechanism of the bug, kept as a record: if Textual fixes its parser, this
    fails, and `tui.paste` can go."""
    got = describe(parsed(XTermParser(), BRACKETED))
    assert ("key", "enter") in got or ("key", "ctrl+j") in got
    assert got[-1] == ("paste", "ev"), "the paste's start arrives last"


def test_everything_but_a_paste_parses_as_textual_parses_it() -> None:
    stream = "q\x1b[A\x1b[B\r\x1b[<0;10;5M\x1b[<0;10;5m\x1b"
    assert describe(parsed(PasteSafeParser(), stream)) == describe(parsed(XTermParser(), stream))


def _function_ast(function: Any) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body.pop(0)  # docstrings may differ
        if isinstance(node, ast.Name) and node.id == "PasteSafeParser":
            node.id = "XTermParser"
    return ast.dump(tree)


def test_the_driver_input_loop_is_textuals_with_only_the_parser_changed() -> None:
    """`PasteSafeLinuxDriver.run_input_thread` is a copy; a Textual upgrade that
    changes the original fails here, so the copy is looked at again."""
    assert _function_ast(PasteSafeLinuxDriver.run_input_thread) == _function_ast(
        LinuxDriver.run_input_thread
    )


class _CapturingDriver(PasteSafeLinuxDriver):
    """Textual's input loop on a pipe, stopping after the first read."""

    received: list[Message]

    def process_message(self, message: Message) -> None:
        self.received.append(message)
        self.exit_event.set()  # checked once the read in progress is fully handled


def test_the_driver_delivers_a_real_paste_from_the_terminal_as_one_event() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, ("n" + BRACKETED + "\r").encode())
        os.close(write_end)
        # No app, no terminal, no signal handlers: only what the copied loop reads.
        driver = object.__new__(_CapturingDriver)
        driver.received = []
        driver.fileno = read_end
        driver._debug = False
        driver.exit_event = threading.Event()
        driver.run_input_thread()  # reads everything at once (it is all in the pipe)
    finally:
        os.close(read_end)
    assert describe(driver.received) == [("key", "n"), ("paste", PASTED), ("key", "enter")]
