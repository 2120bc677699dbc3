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

from core.cli.console import Console
from core.cli.exits import EXIT_USAGE
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
    **kw: Any,
) -> argparse.ArgumentParser:
    """A subcommand whose `--help` says `help_text`, taking `--store` after its name too."""
    parser = commands.add_parser(name, help=help_text, description=help_text, **kw)
    add_store_flag(parser, default=argparse.SUPPRESS)
    parser.set_defaults(handler=command)
    return parser


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

    group.set_defaults(handler=Command(NoOptions, missing_action))
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
    out = []
    for value in values:
        expanded = os.path.expanduser(value.strip())
        out.append(os.path.normpath(os.path.abspath(expanded)) if expanded else "")
    return out
