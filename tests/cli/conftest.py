"""CLI tests run the command in-process, as httpie's do: `main(args,
console=TestConsole(...))`, against a store in a temporary folder, with a private
HOME and nothing else of the real environment, so nothing real is touched.

The console script itself (start-up, signals, real terminals, closed streams) is
tested in a subprocess: `Cli.script` (tests/cli/test_console_script.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.cli import main
from core.cli.console import TestConsole
from core.store import Store, TokenStore

SCRIPT = Path(sys.executable).with_name("opencode-auth-tui")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def assert_one_line_error(result: Result, code: int, text: str) -> None:
    """A refusal as SPEC says: the exit code, one line on stderr that says what
    went wrong, no traceback, and no colour when stderr is not a terminal."""
    assert result.code == code, (result.code, result.out, result.err)
    assert len(result.err_lines) == 1, result.err
    assert result.err.startswith("opencode-auth-tui: error: "), result.err
    assert text.lower() in result.err.lower(), result.err
    assert "Traceback" not in result.err
    assert "\x1b" not in result.err


@dataclass
class Cli:
    store: Path
    env: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    opened: list[Store] = field(default_factory=list)
    """The stores `launch_tui` was handed (the TUI itself is not started in-process)."""

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        stdin_tty: bool = False,
        stdout_tty: bool = False,
        color: bool = False,
        with_tui: bool = False,
    ) -> Result:
        """Run `opencode-auth-tui ARGS` in-process; `with_tui` passes a launcher,
        as the console script does (`python -m core` passes none)."""
        console = TestConsole(
            stdin or "", stdin_isatty=stdin_tty, stdout_isatty=stdout_tty, color=color
        )
        with self.monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            code = main(list(args), console=console, launch_tui=self._launch if with_tui else None)
        return Result(code, console.out, console.err)

    def _launch(self, store: Store) -> int:
        self.opened.append(store)
        return 0

    def script(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        """Run the installed console script in a subprocess."""
        proc = subprocess.run(
            [str(SCRIPT), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def bytes(self) -> bytes | None:
        return self.store.read_bytes() if self.store.exists() else None

    def core(self, *, days_ago: float = 0) -> TokenStore:
        """A core store on the same file, optionally with a clock in the past
        (to make tokens that are already expired or about to be)."""
        moment = datetime.now(UTC) - timedelta(days=days_ago)
        return TokenStore(self.store, clock=lambda: moment)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    if not SCRIPT.exists():
        pytest.fail(f"console script not installed next to {sys.executable}: pip install -e .")
    home = tmp_path / "home"
    home.mkdir()
    store = tmp_path / "cfg" / "opencode" / "auth-tokens.json"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "OPENCODE_AUTH_TOKENS_FILE": str(store),
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }
    # In-process commands see exactly this environment, as a subprocess would:
    # nothing of the developer's (an OPENCODE_AUTH_TOKENS_URL, a real store).
    for key in list(os.environ):
        if not key.startswith("PYTEST_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Cli(store=store, env=env, monkeypatch=monkeypatch)


SecretOf = Callable[..., str]


@pytest.fixture
def secret_of(cli: Cli) -> SecretOf:
    """Create a token with `create --quiet` and return its secret."""

    def make(*args: str) -> str:
        result = cli("token", "create", "--quiet", *args)
        assert result.code == 0, result.err
        return result.out.strip()

    return make
