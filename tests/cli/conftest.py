"""CLI tests run the installed `opencode-auth-tui` console script in a subprocess,
against a store in a temporary folder, with a private HOME so nothing real is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.store import TokenStore

SCRIPT = Path(sys.executable).with_name("opencode-auth-tui")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@dataclass
class Cli:
    store: Path
    env: dict[str, str]

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
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
def cli(tmp_path: Path) -> Cli:
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
    return Cli(store=store, env=env)


@pytest.fixture
def secret_of(cli: Cli) -> Callable[..., str]:
    """Create a token with `create --quiet` and return its secret."""

    def make(*args: str) -> str:
        result = cli("token", "create", "--quiet", *args)
        assert result.code == 0, result.err
        return result.out.strip()

    return make
