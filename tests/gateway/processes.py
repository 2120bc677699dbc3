"""Running the real command line (and the fake opencode) as child processes.

The console script is used as a user would run it; `python -m core` is the
fallback when the script is not installed in this environment.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("opencode-auth-tui")
ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (https?://\S+)")


def cli_command() -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT)]
    return [sys.executable, "-m", "core"]


class Child:
    """A child process whose stderr (and optionally stdout) is collected by threads."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line.rstrip("\n"))

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 20.0) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err) + list(self.out):
                found = regex.search(line)
                if found:
                    return found
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the pumps catch the last lines
                for line in list(self.err) + list(self.out):
                    found = regex.search(line)
                    if found:
                        return found
                raise AssertionError(
                    f"{self.argv[:3]} exited {self.proc.returncode} before {regex.pattern!r}:\n"
                    + "\n".join(self.err)
                )
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {regex.pattern!r}:\n" + "\n".join(self.err))

    def lines_once(self, holds: Callable[[list[str]], bool], timeout: float = 10.0) -> list[str]:
        """stdout (the access log) once `holds(lines)`: the log is written in
        batches, up to 50 ms after a request is answered."""
        deadline = time.monotonic() + timeout
        while True:
            lines = list(self.out)
            if holds(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError("the access log never got there:\n" + "\n".join(lines))
            time.sleep(0.02)

    def listening_url(self) -> str:
        return self.wait_for(_LISTENING).group(1)

    def serving_url(self) -> str:
        """The listening URL once the server has learned opencode's directory: until
        then a request that needs a directory gets 503 (`directory_unknown`)."""
        url = self.listening_url()
        self.wait_for(r"serving (the|every) director")
        return url

    def first_line(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.out and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("exited:\n" + "\n".join(self.err))
            time.sleep(0.02)
        return self.out[0]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for thread in self._threads:
            thread.join(2)
        return code

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def fake_upstream(password: str | None = None) -> tuple[Child, str]:
    argv = [sys.executable, "-m", "tests.gateway.fake_upstream"]
    if password:
        argv.append(password)
    child = Child(argv)
    port = child.first_line()
    return child, f"http://127.0.0.1:{port}"


def gateway(
    store: Path,
    upstream: str,
    *extra: str,
    password: str | None = None,
    env: dict[str, str] | None = None,
) -> Child:
    environment = dict(env or {})
    if password:
        environment["OPENCODE_SERVER_PASSWORD"] = password
    return Child(
        [
            *cli_command(),
            "--store",
            str(store),
            "gateway",
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
            *extra,
        ],
        env=environment,
    )


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def forward_auth(
    store: Path,
    *extra: str,
    listen: str = "127.0.0.1:0",
    upstream: str = UNREACHABLE,
    directories: Sequence[str] | None = None,
    password: str | None = None,
) -> Child:
    """`forward-auth` serving `directories` (every one when None), asking the
    opencode at `upstream` (by default nothing: tests never reach a stray local
    opencode by accident)."""
    scope = (
        ["--any-directory"]
        if directories is None
        else [arg for d in directories for arg in ("--directory", d)]
    )
    return Child(
        [
            *cli_command(),
            "--store",
            str(store),
            "forward-auth",
            "--listen",
            listen,
            "--upstream",
            upstream,
            *scope,
            *extra,
        ],
        env={"OPENCODE_SERVER_PASSWORD": password} if password else None,
    )
