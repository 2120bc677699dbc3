"""Shared helpers for the core tests (fixtures live in conftest.py)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import random
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534

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


def forkserver() -> multiprocessing.context.ForkServerContext:
    """Children forked from a clean server process that has core preloaded: fast to
    start, and never a fork of the (possibly threaded) pytest process."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["core.store", "tests.core.core_workers"])
    return ctx


def run_unprivileged(target: Callable[..., None], *args: object) -> tuple[object, ...]:
    """Run `target(*args, uid, conn)` in a child that drops to the `nobody` user;
    return what it sent. Skips the test if privileges cannot be dropped."""
    ctx = forkserver()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, NOBODY, child))
    proc.start()
    child.close()
    try:
        if not parent.poll(30):
            raise AssertionError("the unprivileged child did not answer")
        result: tuple[object, ...] = parent.recv()
    finally:
        proc.join(10)
    if result[0] == "cannot-drop":
        pytest.skip(f"running as root and cannot switch to an unprivileged user: {result[1]}")
    return result


def open_to_nobody(folder: Path) -> None:
    """Let the unprivileged user reach `folder`: own it and its files, and make
    every ancestor traversable."""
    for p in [folder, *folder.iterdir()]:
        os.chown(p, NOBODY, NOBODY)
    for parent in folder.parents:
        mode = stat.S_IMODE(os.stat(parent).st_mode)
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)
