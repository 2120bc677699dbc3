"""The entry point's start-up: `core.cli.run` pauses Python's cyclic garbage
collector for a command that ends at once (about a quarter of a cold start's CPU
time, benchmarks/cli_bench.py), and turns it on for one that runs for hours."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from core import cli as core_cli
from core.cli import tokens
from core.cli.console import Console, TestConsole
from core.cli.parser import build_parser
from core.store import Store
from tests.cli.conftest import Cli


@pytest.fixture
def collector_on() -> Iterator[None]:
    """Each test starts with the collector on, and leaves it on, with what `run`
    froze given back to it (the test process lives on)."""
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def test_importing_the_cli_loads_nothing_heavy() -> None:
    """So `run` pauses the collector before pydantic and the models load."""
    code = (
        "import sys\n"
        "from core import cli\n"
        "heavy = ('pydantic', 'core.model', 'core.store', 'core.cli.parser')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_short_command_runs_with_the_collector_paused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    assert cli("token", "create", "a", "--quiet").code == 0
    seen: list[bool] = []
    real = tokens.list_tokens

    def spy(options: tokens.ListOptions, console: Console) -> int:
        seen.append(gc.isenabled())
        return real(options, console)

    monkeypatch.setattr(tokens, "list_tokens", spy)
    console = TestConsole()
    assert core_cli.run(["token", "list"], console=console) == 0
    assert seen == [False]
    assert console.out.startswith("ID ") and "a" in console.out
    assert gc.isenabled()  # on again for the caller


def test_a_failing_command_also_gives_the_collector_back(cli: Cli, collector_on: None) -> None:
    console = TestConsole()
    assert core_cli.run(["token", "show", "nobody"], console=console) == 1
    assert gc.isenabled()


def test_a_caller_with_the_collector_off_keeps_it_off(cli: Cli, collector_on: None) -> None:
    gc.disable()
    assert core_cli.run(["policy", "--json"], console=TestConsole()) == 0
    assert not gc.isenabled()


def test_the_tui_runs_with_the_collector_on(cli: Cli, collector_on: None) -> None:
    seen: list[bool] = []

    def launch(store: Store) -> int:
        seen.append(gc.isenabled())
        return 0

    console = TestConsole(stdin_isatty=True, stdout_isatty=True)
    assert core_cli.run([], console=console, launch_tui=launch) == 0
    assert core_cli.run(["tui"], console=console, launch_tui=launch) == 0
    assert seen == [True, True]


@pytest.mark.parametrize(
    ("argv", "long_running"),
    [
        (["gateway"], True),
        (["forward-auth"], True),
        (["tui"], True),
        (["token", "list"], False),
        (["token", "create"], False),
        (["pair", "--url", "http://127.0.0.1:4097"], False),
        (["migrate"], False),
    ],
)
def test_only_servers_and_the_tui_are_long_running(argv: list[str], long_running: bool) -> None:
    namespace = build_parser(TestConsole()).parse_args(argv)
    assert namespace.handler.long_running is long_running
