"""What a command is: a typed options dataclass and a handler `(options, console)
-> exit code`, plus the flags several commands share.

argparse's Namespace stops at `options_from`: the one place it becomes a
command's options, by the options' field names. A handler sees neither argparse
nor `sys`, so it can be called (and tested) in-process with any console.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.authz.presets import PRESETS
from core.authz.presets import preset as named_preset
from core.cli.console import Console
from core.cli.exits import EXIT_USAGE
from core.cli.output import PROG, note, warn
from core.model.permissions import Permission
from core.present import missing_directory_warning, relative_directory_note
from core.store.location import ENV_VAR, URL_ENV_VAR

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
    """What `add_subparsers` returns: where a command group adds its commands."""

Opts = TypeVar("Opts", bound="DataclassInstance")


def options_from(kind: type[Opts], namespace: argparse.Namespace) -> Opts:
    """The command's options, taken from the parsed flags by field name."""
    values = {field.name: getattr(namespace, field.name) for field in fields(kind)}
    build: Callable[..., Opts] = kind
    return build(**values)


@dataclass(frozen=True)
class Command(Generic[Opts]):
    """A handler and the options type it takes (what `set_defaults(handler=...)` holds)."""

    options: type[Opts]
    run: Callable[[Opts, Console], int]
    long_running: bool = False
    """A server or the TUI: it needs Python's garbage collector, which the CLI's
    entry point pauses for commands that end at once (core.cli.run)."""

    def __call__(self, namespace: argparse.Namespace, console: Console) -> int:
        return self.run(options_from(self.options, namespace), console)


@dataclass(frozen=True)
class NoOptions:
    """For commands that take no flags of their own."""


def add_command(
    commands: Subcommands,
    name: str,
    command: Command[Any],
    help_text: str,
    *,
    store: bool = True,
    **kw: Any,
) -> argparse.ArgumentParser:
    """A subcommand whose `--help` says `help_text`, taking `--store` after its name
    too - unless it never opens a store (`store=False`: `policy`, `schema`), when its
    help must not offer a flag it ignores."""
    parser = commands.add_parser(name, help=help_text, description=help_text, **kw)
    if store:
        add_store_flag(parser, default=argparse.SUPPRESS)
    set_handler(parser, command)
    return parser


def set_handler(parser: argparse.ArgumentParser, command: Command[Any]) -> None:
    """`command` runs when `parser`'s command is given; a usage error found after
    parsing (an unknown argument) points to this parser's `--help`."""
    parser.set_defaults(handler=command, help_prog=parser.prog)


def add_group(
    commands: Subcommands,
    name: str,
    help_text: str,
    *,
    dest: str,
) -> Subcommands:
    """`token`, `db`: a word that needs an action; alone, it shows its help (exit 2)."""
    group = commands.add_parser(name, help=help_text)

    def missing_action(_options: NoOptions, console: Console) -> int:
        group.print_help(console.stderr)
        return EXIT_USAGE

    set_handler(group, Command(NoOptions, missing_action))
    return group.add_subparsers(dest=dest, metavar="ACTION")


def add_store_flag(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        default=default,
        help=(
            "token store: a file, or a postgresql:// URL without a password (default: "
            f"${URL_ENV_VAR}, else ${ENV_VAR}, else $XDG_CONFIG_HOME/opencode/auth-tokens.json)"
        ),
    )


def add_json_fields_flag(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--json` alone, or `--json id,name,status` (output.json_fields)."""
    parser.add_argument(
        "--json",
        nargs="?",
        const="",
        default=False,
        metavar="FIELDS",
        help=f"{help_text}; with FIELDS (e.g. id,name,status) only those",
    )


def absolute_directories(values: Sequence[str] | None) -> list[str] | None:
    """`--directory` values as absolute paths (`~` expanded, relative ones taken
    from the current folder, as a shell user means them); an empty one stays
    empty, for the store to refuse in its own words."""
    if values is None:
        return None
    return [_absolute(value) for value in values]


def _absolute(value: str) -> str:
    expanded = os.path.expanduser(value.strip())
    return os.path.normpath(os.path.abspath(expanded)) if expanded else ""


def say_directories(given: Sequence[str] | None, stored: Sequence[str], console: Console) -> None:
    """After a token was given `--directory` values and stored them: which
    relative ones were taken from the current folder (never silently), and which
    do not exist (a warning, not an error: the project may come later)."""
    for value in given or ():
        text = value.strip()
        if text and not os.path.isabs(os.path.expanduser(text)):
            note(console, relative_directory_note(text, _absolute(text)))
    for directory in stored:
        missing = missing_directory_warning(directory)
        if missing is not None:
            warn(console, missing)


# --- flags for a token's permissions and directories ------------------------------


def permissions_given(
    permissions: str | None, preset: str | None
) -> str | tuple[Permission, ...] | None:
    """`--permissions LIST` or `--preset NAME` (argparse lets only one through);
    an unknown preset is an input error that names every preset."""
    return permissions if preset is None else named_preset(preset).permissions


def add_directory_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--directory",
        metavar="PATH",
        action="append",
        dest="directories",
        help="a directory the token may use (repeatable; a relative one is taken from the "
        "current folder); default: every directory the server serves",
    )


def add_permission_flags(parser: argparse.ArgumentParser, default: str | None) -> None:
    """`--permissions LIST` or `--preset NAME`, one or the other."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--permissions",
        metavar="LIST",
        help="comma-separated subset of read,write,execute"
        + (f" (default: {default})" if default else ""),
    )
    named = "; ".join(f"{p.name}: {p.title} ({','.join(p.permissions)})" for p in PRESETS)
    group.add_argument(
        "--preset",
        metavar="NAME",
        help=f"the permissions a kind of client needs - {named}; see `{PROG} policy --presets`",
    )
