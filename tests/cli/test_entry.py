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


def _run_on_terminal(cli: Cli, args: list[str], keys: bytes, expect: bytes) -> tuple[int, bytes]:
    """Start the console script on a pseudo-terminal (80x24), wait for `expect`
    on the screen, type `keys`, and return the exit code and everything drawn."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios
    import time

    from tests.cli.conftest import SCRIPT

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**cli.env, "TERM": "xterm-256color"}
    proc = subprocess.Popen([str(SCRIPT), *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    screen = b""
    sent = False
    deadline = time.monotonic() + 30
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(master, 65536)
                except OSError:
                    break
            if not sent and expect in screen:
                os.write(master, keys)
                sent = True
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, screen


def test_no_command_on_a_terminal_opens_the_tui_on_the_given_store(cli: Cli, tmp_path) -> None:
    other = tmp_path / "elsewhere" / "tokens.json"
    assert (
        cli("--store", str(other), "token", "create", "--name", "on-terminal", "--quiet").code == 0
    )
    code, screen = _run_on_terminal(cli, ["--store", str(other)], b"\x11", b"on-terminal")
    assert b"on-terminal" in screen  # the TUI drew the token table of that store
    assert code == 0  # ctrl+q quits cleanly
