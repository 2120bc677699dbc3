"""How the command starts: help, version, `python -m core`, no Textual when headless."""

from __future__ import annotations

import subprocess
import sys

from tests.cli.conftest import Cli


def test_no_arguments_without_a_tty_prints_help_and_exits_2(cli: Cli) -> None:
    result = cli()
    assert result.code == 2
    assert "usage: opencode-auth-tui" in result.err
    assert result.out == ""


def test_version_and_help(cli: Cli) -> None:
    from core import __version__

    version = cli("--version")
    assert version.code == 0 and version.out.strip() == f"opencode-auth-tui {__version__}"
    help_ = cli("--help")
    assert help_.code == 0
    for word in ("tui", "token", "migrate", "schema", "--store", "Exit codes"):
        assert word in help_.out
    for action in ("create", "list", "show", "delete", "rotate", "prune", "check"):
        assert cli("token", action, "--help").code == 0


def test_tui_without_a_terminal_is_a_usage_error(cli: Cli) -> None:
    result = cli("tui")
    assert result.code == 2
    assert "interactive terminal" in result.err


def test_python_dash_m_core_never_opens_the_tui(cli: Cli) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "core", "tui"],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "opencode-auth-tui" in proc.stderr


def test_python_dash_m_core_is_the_same_cli(cli: Cli) -> None:
    assert cli("token", "create", "--name", "m", "--quiet").code == 0
    proc = subprocess.run(
        [sys.executable, "-m", "core", "token", "list", "--json"],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"name": "m"' in proc.stdout


def test_headless_path_never_imports_textual(cli: Cli) -> None:
    assert cli("token", "create", "--name", "t", "--quiet").code == 0
    code = (
        "import sys\n"
        "from tui.launcher import main  # what the console script runs\n"
        "commands = [['token', 'list'], ['token', 'list', '--json'], ['token', 'show', 't']]\n"
        "for argv in [*commands, ['schema']]:\n"
        "    assert main(argv) == 0\n"
        "def ui(m):\n"
        "    top = m.split('.')[0]\n"
        "    return top in ('textual', 'rich') or m.startswith('tui.') and m != 'tui.launcher'\n"
        "leaked = sorted(filter(ui, sys.modules))\n"
        "assert not leaked, leaked\n"
        "print('clean')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli.env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("clean")


def test_broken_pipe_is_quiet(cli: Cli) -> None:
    for i in range(30):
        cli.core().create(name=f"t{i}")
    from tests.cli.conftest import SCRIPT

    proc = subprocess.run(
        f"'{SCRIPT}' token list | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=60,
    )
    assert proc.stdout.startswith("ID")
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr
