"""The installed `opencode-auth-tui` console script itself, in a subprocess: what
only a real process shows - start-up, exit codes, `python -m core`, no Textual on
the headless path, signals, closed pipes and streams, real terminals."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

from core import __version__
from tests.cli.conftest import SCRIPT, Cli


def test_no_arguments_without_a_tty_prints_help_and_exits_2(cli: Cli) -> None:
    result = cli.script()
    assert result.code == 2
    assert result.err.startswith("usage: opencode-auth-tui")
    assert result.out == ""


def test_version_and_help(cli: Cli) -> None:
    version = cli.script("--version")
    assert (version.code, version.out) == (0, f"opencode-auth-tui {__version__}\n")
    help_ = cli.script("--help")
    assert help_.code == 0 and help_.err == ""
    for word in ("tui", "token", "migrate", "schema", "--store", "Exit codes"):
        assert word in help_.out


def test_exit_codes(cli: Cli) -> None:
    assert cli.script("token", "create", "--name", "a", "--quiet").code == 0
    assert cli.script("token", "show", "nope").code == 1
    assert cli.script("token", "create", "--expires", "soon").code == 2
    cli.store.write_text("{")
    broken = cli.script("token", "list")
    assert broken.code == 3 and broken.err.count("\n") == 1
    assert broken.err.startswith("opencode-auth-tui: error: ")


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
    assert cli.script("token", "create", "--name", "m", "--quiet").code == 0
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
    assert cli.script("token", "create", "--name", "t", "--quiet").code == 0
    code = (
        "import sys\n"
        "from tui.launcher import main  # what the console script runs\n"
        "commands = [['token', 'list'], ['token', 'list', '--json'], ['token', 'show', 't']]\n"
        "for argv in [*commands, ['schema'], ['policy'], ['--help']]:\n"
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


def test_a_closed_stdout_is_no_internal_error(cli: Cli) -> None:
    """`>&-`: what would have been printed goes nowhere, as with a closed pipe."""
    assert cli.script("token", "create", "--name", "a", "--quiet").code == 0
    for args in ("token list", "token list --json", "export", "policy"):
        proc = subprocess.run(
            f"'{SCRIPT}' {args} >&-",
            shell=True,
            capture_output=True,
            text=True,
            env=cli.env,
            timeout=60,
        )
        assert (proc.returncode, proc.stderr) == (0, ""), args


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _on_terminal(cli: Cli, args: list[str], expect: bytes, then: bytes | int) -> tuple[int, bytes]:
    """Start the console script on a pseudo-terminal (80x24), wait for `expect`
    on the screen, then type `then` (bytes) or send it (a signal); return the exit
    code and everything drawn."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**cli.env, "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [str(SCRIPT), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        # As a shell starts a command at a terminal: Ctrl-C's default action, even
        # when the test run itself was started in the background (`cmd &` in a
        # script ignores SIGINT, its children inherit that, and Python then
        # installs no KeyboardInterrupt handler).
        preexec_fn=_sigint_default,
    )
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
                if isinstance(then, bytes):
                    os.write(master, then)
                else:
                    proc.send_signal(then)
                sent = True
        code = proc.wait(timeout=10)
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, screen


def test_ctrl_c_at_a_prompt_exits_130_and_deletes_nothing(cli: Cli) -> None:
    assert cli.script("token", "create", "--name", "a", "--quiet").code == 0
    before = cli.bytes()
    code, screen = _on_terminal(cli, ["token", "delete", "a"], b"[y/N]", signal.SIGINT)
    assert code == 130
    assert b"Traceback" not in screen and b"KeyboardInterrupt" not in screen
    assert cli.bytes() == before


def test_status_colour_on_a_terminal_respects_no_color(cli: Cli) -> None:
    cli.core().create(name="active", expires="30d")
    cli.core(days_ago=10).create(name="expired", expires="2d")

    def run(env_extra: dict[str, str]) -> bytes:
        master, slave = pty.openpty()
        env = {k: v for k, v in cli.env.items() if k != "NO_COLOR"} | env_extra
        proc = subprocess.run(
            [str(SCRIPT), "token", "list"],
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
            timeout=30,
        )
        os.close(slave)
        out = b""
        try:
            while chunk := os.read(master, 65536):
                out += chunk
        except OSError:
            pass
        os.close(master)
        assert proc.returncode == 0
        return out

    assert b"\x1b[31mexpired" in run({"TERM": "xterm"})
    assert b"\x1b[" not in run({"TERM": "xterm", "NO_COLOR": "1"})
    assert b"\x1b[" not in run({"TERM": "dumb"})


def test_no_command_on_a_terminal_opens_the_tui_on_the_given_store(cli: Cli) -> None:
    other = cli.store.parent.parent / "elsewhere" / "tokens.json"
    other.parent.mkdir(parents=True)
    created = cli.script("--store", str(other), "token", "create", "--name", "on-terminal")
    assert created.code == 0
    code, screen = _on_terminal(cli, ["--store", str(other)], b"on-terminal", b"\x11")
    assert b"on-terminal" in screen  # the TUI drew the token table of that store
    assert code == 0  # ctrl+q quits cleanly
