"""Core's typed errors turned into what the TUI says, in one place."""

from __future__ import annotations

from core.model.errors import AuthTuiError, StoreError


def problem_of(error: AuthTuiError) -> str:
    """The message without the path, for places that show the path separately."""
    if isinstance(error, StoreError):
        return error.problem
    return error.message


def one_line(error: AuthTuiError) -> str:
    """`message (hint)`: for notifications and inline form errors."""
    if error.hint:
        return f"{error.message} ({error.hint})"
    return error.message
