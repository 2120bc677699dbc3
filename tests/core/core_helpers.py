"""Shared helpers for the core tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

T0 = datetime(2026, 1, 15, 12, 34, 56, 789000, tzinfo=UTC)
"""The fixed "now" of most tests (with microseconds, which the store must drop)."""
T0_S = T0.replace(microsecond=0)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


class SeededBytes:
    """A deterministic stand-in for `secrets.token_bytes`."""

    def __init__(self, seed: int = 1234) -> None:
        self._rng = random.Random(seed)

    def __call__(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def temp_files(folder: Path) -> list[str]:
    """Temporary files a writer left in `folder`."""
    return sorted(n for n in os.listdir(folder) if n.startswith(".") and n.endswith(".tmp"))


def run_python(
    code: str, *, user: int | None = None, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with the repo importable."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        user=user,
        group=user,
        cwd=REPO if user is None else "/",
        check=False,
    )
