"""The console a command runs against: its streams, whether they are terminals,
and whether colour is wanted.

Commands never touch `sys.stdin`/`sys.stdout`: `main` hands each one a Console,
as gh's factory hands every command its IOStreams and httpie's `main` takes an
`Environment`. The console script builds a `SystemConsole` from `sys.*`; tests
build a `TestConsole` over in-memory streams and run commands in-process.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO, TextIO


def color_allowed(environ: Mapping[str, str]) -> bool:
    """`NO_COLOR` (any non-empty value, no-color.org) and `TERM=dumb` turn colour off."""
    return environ.get("NO_COLOR", "") == "" and environ.get("TERM") != "dumb"


@dataclass
class Console:
    """Streams and what they are. Text goes to `stdout`/`stderr`; `write_bytes`
    is for output that must be exact bytes (`export`)."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    stdout_bytes: BinaryIO
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    color_stdout: bool = False
    color_stderr: bool = False

    @property
    def interactive(self) -> bool:
        """Both ends on a terminal: the TUI may open (a prompt needs only stdin)."""
        return self.stdin_isatty and self.stdout_isatty

    def write_bytes(self, data: bytes) -> None:
        self.stdout.flush()
        self.stdout_bytes.write(data)
        self.stdout_bytes.flush()

    def ask(self, question: str) -> str:
        """`question` on stderr (stdout stays clean for a pipe), one line back."""
        self.stderr.write(f"{question} ")
        self.stderr.flush()
        return self.stdin.readline()

    def read_secret(self, prompt: str) -> str:
        """A secret typed at the terminal; a console that cannot hide it reads a line."""
        return self.ask(prompt.rstrip())

    def output_closed(self) -> None:
        """stdout's reader went away (`| head`): nothing more is worth saying."""


class SystemConsole(Console):
    """The process's own streams. A stream closed before start (`>&-`) reads as
    empty or swallows what is written, as `print` does when `sys.stdout` is None."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        stdin = sys.stdin if sys.stdin is not None else io.StringIO()
        stdout = sys.stdout if sys.stdout is not None else _nowhere()
        stderr = sys.stderr if sys.stderr is not None else _nowhere()
        color = color_allowed(env)
        super().__init__(
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            stdout_bytes=getattr(stdout, "buffer", None) or io.BytesIO(),
            stdin_isatty=stdin.isatty(),
            stdout_isatty=stdout.isatty(),
            color_stdout=color and stdout.isatty(),
            color_stderr=color and stderr.isatty(),
        )

    def read_secret(self, prompt: str) -> str:
        import getpass

        return getpass.getpass(prompt)

    def output_closed(self) -> None:
        # Python flushes stdout again at exit and reports the broken pipe on
        # stderr; with stderr closed, that report has nowhere to go.
        self.stderr.close()


def _nowhere() -> TextIO:
    return open(os.devnull, "w", encoding="utf-8")  # lives as long as the process


class TestConsole(Console):
    """In-memory streams for running commands in-process (tests): `out` and `err`
    are what a user would have seen. `color` stands for a colour terminal on both
    outputs (the system console decides that from `NO_COLOR`, `TERM` and isatty)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        stdin: str = "",
        *,
        stdin_isatty: bool = False,
        stdout_isatty: bool = False,
        color: bool = False,
    ) -> None:
        self._out = io.BytesIO()
        self._err = io.BytesIO()
        super().__init__(
            stdin=io.StringIO(stdin),
            # Strict on stdout (PYTHONIOENCODING=utf-8), lenient on stderr, as Python's own.
            stdout=io.TextIOWrapper(self._out, encoding="utf-8", newline="", write_through=True),
            stderr=io.TextIOWrapper(
                self._err,
                encoding="utf-8",
                errors="backslashreplace",
                newline="",
                write_through=True,
            ),
            stdout_bytes=self._out,
            stdin_isatty=stdin_isatty,
            stdout_isatty=stdout_isatty,
            color_stdout=color,
            color_stderr=color,
        )

    @property
    def out(self) -> str:
        return self._out.getvalue().decode("utf-8")

    @property
    def err(self) -> str:
        return self._err.getvalue().decode("utf-8")
