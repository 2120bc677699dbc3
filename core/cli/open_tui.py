"""`tui`, and a bare `opencode-auth-tui` on a terminal: open the TUI.

core never imports the UI (an import-linter contract): the console script
(`tui/launcher.py`) hands `main` a launcher, and `python -m core` hands none, so
it stays purely headless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cli.command import Command, add_command
from core.cli.console import Console
from core.cli.exits import UsageError
from core.cli.store_access import open_named
from core.store import Store

if TYPE_CHECKING:
    from core.cli.command import Subcommands

TuiLauncher = Callable[[Store], int]


@dataclass(frozen=True)
class TuiOptions:
    store: str | None
    launch_tui: TuiLauncher | None
    """Set by `main` from its caller, not from a flag."""


def open_tui(options: TuiOptions, console: Console) -> int:
    if options.launch_tui is None:
        raise UsageError(
            "the TUI is opened by the `opencode-auth-tui` command, not `python -m core`"
        )
    if not console.interactive:
        raise UsageError(
            "the TUI needs an interactive terminal; use the `token` commands in scripts"
        )
    return options.launch_tui(open_named(options.store))


OPEN_TUI = Command(TuiOptions, open_tui, long_running=True)


def register(commands: Subcommands) -> None:
    add_command(commands, "tui", OPEN_TUI, "open the TUI")
