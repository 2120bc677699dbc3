"""The `opencode-auth-tui` command: a thin headless edge over core.

Everything a user can get wrong ends here as one line on stderr and an exit code
(exits.py). Each command group is one module - tokens (and token_check),
sessions (browser sessions, `token logout`), pair, policy, maintenance
(migrate/export/db/schema), gateway (flags; serve.py starts the servers),
open_tui - with a typed options dataclass per command and a handler
that takes it and a Console (console.py), never `sys.*` or argparse. parser.py
builds the command line from those modules; store_access.py is the one place
the CLI needs something only one store engine has.

core never imports the UI: the console script (`tui/launcher.py`) passes `run`
a `launch_tui` function, used by the `tui` command and by a bare
`opencode-auth-tui` on a terminal. `python -m core` passes none, so it is purely
headless. Both start through `run` (a process's entry: see there); tests call
`main` in-process. Importing this module loads nothing else of the CLI.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.cli.console import Console
    from core.cli.open_tui import TuiLauncher

__all__ = ["main", "run"]


def run(
    argv: Sequence[str] | None = None,
    *,
    console: Console | None = None,
    launch_tui: TuiLauncher | None = None,
) -> int:
    """`main`, as a process's entry point runs it (the console script, `python -m
    core`): with Python's cyclic garbage collector paused.

    A command such as `token list` lives a fraction of a second and leaves
    little cyclic garbage, yet the collector would scan every object made on the
    way - the modules, pydantic's schemas, every record - many times over, and
    once more at exit: about a quarter of its CPU time (benchmarks/cli_bench.py).
    So it is off while the modules load and the command runs; what exists at the
    end is frozen (the interpreter's teardown then scans nothing), and the
    collector is on again for whatever the caller does next. A command that runs
    for hours (`gateway`, `forward-auth`, the TUI) turns it back on as it starts
    (`Command.long_running`).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return main(argv, console=console, launch_tui=launch_tui)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def main(
    argv: Sequence[str] | None = None,
    *,
    console: Console | None = None,
    launch_tui: TuiLauncher | None = None,
) -> int:
    """Run the CLI on `argv` (default: the process's) and return the exit code.

    `console` defaults to the process's own streams; `launch_tui` opens the TUI
    (see the module docstring). The modules are imported here, not above, so
    that `run` pauses the collector before they load."""
    from core.cli.console import SystemConsole
    from core.cli.exits import (
        EXIT_INTERNAL,
        EXIT_INTERRUPTED,
        EXIT_OK,
        EXIT_USAGE,
        UsageError,
        exit_code,
    )
    from core.cli.open_tui import OPEN_TUI
    from core.cli.output import error, note
    from core.cli.parser import attach_dash_values, build_parser
    from core.model.errors import AuthTuiError
    from core.model.text import escape_controls
    from core.present import one_line

    console = SystemConsole() if console is None else console
    args = attach_dash_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(console)
    try:
        try:
            namespace = parser.parse_args(args)
        except SystemExit as done:  # --help, --version
            return done.code if isinstance(done.code, int) else EXIT_OK
        namespace.launch_tui = launch_tui
        command = getattr(namespace, "handler", None)
        if command is None:  # no command: `opencode-auth-tui [--store PATH]`
            if launch_tui is None or not console.interactive:
                parser.print_help(console.stderr)
                return EXIT_USAGE
            command = OPEN_TUI
        if command.long_running:
            gc.enable()  # it runs for hours: see `run`
        code: int = command(namespace, console)
        return code
    except (AuthTuiError, UsageError) as exc:
        error(console, one_line(exc) if isinstance(exc, AuthTuiError) else str(exc))
        return exit_code(exc)
    except KeyboardInterrupt:
        note(console, "")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a message.
        console.output_closed()
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("OPENCODE_AUTH_TUI_DEBUG"):
            raise
        error(
            console,
            f"internal error ({type(exc).__name__}: {escape_controls(str(exc))}); "
            "set OPENCODE_AUTH_TUI_DEBUG=1 to see the traceback",
        )
        return EXIT_INTERNAL
