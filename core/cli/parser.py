"""The command line: the parser every command is registered on, and the one
rewrite argv gets before argparse sees it.

A usage error is one line on stderr and exit code 2, like every other error:
the parser raises `UsageError` and `main` says it. Help and `--version` go to
the console's stdout, so they are tested in-process like any command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from core import __version__
from core.cli import gateway, maintenance, open_tui, pair, policy, sessions, tokens
from core.cli.command import add_store_flag
from core.cli.console import Console
from core.cli.exits import UsageError
from core.cli.output import PROG, redact_secrets, say
from core.model.text import escape_controls

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


class Parser(argparse.ArgumentParser):
    """argparse, writing to a console; its errors are `UsageError`s, and a token
    pasted into the wrong place on the command line is not echoed back."""

    def __init__(self, *args: Any, console: Console, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.console = console

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Subcommands are parsers of this kind, on the same console."""
        kwargs.setdefault("parser_class", _on_console(self.console))
        return super().add_subparsers(**kwargs)

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        super().print_help(self.console.stdout if file is None else file)

    def print_usage(self, file: SupportsWrite[str] | None = None) -> None:
        super().print_usage(self.console.stdout if file is None else file)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            say(self.console, message.rstrip("\n"))
        raise SystemExit(status)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's, except that an unknown argument points to the `--help` of
        the command it was given to (`token create --help`), not the program's."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._refuse(
                f"unrecognized arguments: {' '.join(extras)}",
                getattr(parsed, "help_prog", self.prog),
            )
        return parsed

    def error(self, message: str) -> NoReturn:
        self._refuse(message, self.prog)

    def _refuse(self, message: str, prog: str) -> NoReturn:
        message = redact_secrets(escape_controls(message))
        raise UsageError(f"{message} (see `{prog} --help`)")


def _on_console(console: Console) -> Any:
    def make(**kwargs: Any) -> Parser:
        return Parser(console=console, **kwargs)

    return make


class _ShowVersion(argparse.Action):
    """`--version`, printed on the console (argparse's own writes to sys.stdout)."""

    def __init__(self, option_strings: list[str], **_given: Any) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show program's version number and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        assert isinstance(parser, Parser)
        print(f"{PROG} {__version__}", file=parser.console.stdout)
        parser.exit()


def build_parser(console: Console) -> Parser:
    parser = Parser(
        prog=PROG,
        description=(
            "Per-client API tokens for `opencode serve`. With no arguments on a terminal, "
            "opens the TUI."
        ),
        epilog="Exit codes: 0 ok, 1 not found or denied, 2 usage or input error, 3 store problem.",
        console=console,
    )
    parser.add_argument("--version", action=_ShowVersion)
    add_store_flag(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    open_tui.register(commands)
    tokens.register(commands)
    sessions.register(commands)
    pair.register(commands)
    policy.register(commands)
    maintenance.register(commands)
    gateway.register(commands)
    return parser


# --- argv, before argparse -------------------------------------------------------------

_VALUE_FLAGS = frozenset(
    {
        "--expires",
        "--name",
        "--note",
        "--permissions",
        "--preset",
        "--directory",
        "--store",
        "--to",
        "--url",
    }
)


def attach_dash_values(args: list[str]) -> list[str]:
    """`--expires -1d` as `--expires=-1d`, for the flags that take a value.

    Why: argparse takes any word starting with `-` for an option, so `--expires
    -1d` (a past expiry) or `--name -x` would fail with "expected one argument",
    hiding the real problem; attached, the value reaches the command and gets its
    real error ("must be in the future"). `-` alone and `--...` words are left as
    they are."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        following = args[i + 1] if i + 1 < len(args) else None
        if (
            arg in _VALUE_FLAGS
            and following is not None
            and following.startswith("-")
            and not following.startswith("--")
            and following != "-"
        ):
            out.append(f"{arg}={following}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out
