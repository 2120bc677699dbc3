"""The exit codes, written once, and the one place a typed error becomes one.

    0 success   1 not found / denied   2 usage or input error   3 store problem

Scripts branch on these (SPEC "CLI contract"), so every command returns one of
these names, never a number of its own.
"""

from __future__ import annotations

from core.model.errors import (
    InputError,
    SessionNotFound,
    StoreError,
    TokenExpired,
    TokenNotFound,
)

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # also: request denied by `token check`, `policy --diff` with news
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_INTERNAL = 70  # a bug: said in one line, the traceback only on request
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT

EXIT_SECOND_SIGNAL = 1
"""`gateway`/`forward-auth`: stopped by a second signal before in-flight
requests finished (the servers' own contract, see `gateway --help`)."""


class UsageError(Exception):
    """A usage problem found after parsing, or by the parser itself (exit code 2)."""


def exit_code(error: BaseException) -> int:
    """Every typed error maps to its exit code here, and only here."""
    if isinstance(error, InputError | UsageError):
        return EXIT_USAGE
    if isinstance(error, TokenNotFound | SessionNotFound | TokenExpired):
        return EXIT_NOT_FOUND
    if isinstance(error, StoreError):
        return EXIT_STORE
    return EXIT_INTERNAL
