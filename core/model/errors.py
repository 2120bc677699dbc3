"""Typed errors raised by core.

Every error a user can cause is one of these. Each carries a one-line message
(`str(err)`) and, where it helps, a `hint` saying how to fix it. The edges (CLI,
TUI, gateway) turn the *category* into an exit code or a screen in one place each;
core never prints.

No error message ever contains a token secret: callers pass names, ids, paths
and reasons, never the secret text.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from core.model.text import escape_controls
from core.model.token_format import PAIRING_PREFIX, PREFIX, SESSION_PREFIX, make_hint


class AuthTuiError(Exception):
    """Base class of every error core raises on purpose."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


# --- bad input: exit code 2, nothing changed -------------------------------------


class InputError(AuthTuiError):
    """The caller gave a value that breaks an input rule."""


class InvalidName(InputError):
    pass


class DuplicateName(InputError):
    pass


class InvalidPermissions(InputError):
    pass


class InvalidExpiry(InputError):
    pass


class InvalidNote(InputError):
    pass


class InvalidDirectory(InputError):
    pass


class PairingInvalid(InputError):
    """A pairing code that grants nothing: `reason` is `unknown` (never issued, or
    used already: a used code is gone), `expired`, or `orphaned` (its token is
    gone or expired). The gateway shows a page saying which; nothing changed."""

    _MESSAGES: ClassVar[dict[str, str]] = {
        "unknown": "this pairing link is not valid: it was used already, or never issued",
        "expired": "this pairing link has expired (links work for 5 minutes)",
        "orphaned": "this pairing link's token was deleted or has expired",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self._MESSAGES.get(reason, self._MESSAGES["unknown"]))
        self.reason = reason


# --- not found: exit code 1 ----------------------------------------------------


class TokenNotFound(AuthTuiError):
    def __init__(self, ref: str) -> None:
        # A secret pasted where an id or name belongs must not be echoed back to
        # the terminal (and its scrollback, and CI logs): show only its hint.
        if ref.strip().startswith(PREFIX):
            message = (
                f"no token with id or name '{make_hint(ref.strip())}'; "
                "that looks like a token secret - give the token's id or name"
            )
        else:
            message = f"no token with id or name '{escape_controls(ref)}'"
        super().__init__(message)
        self.ref = ref


class TokenExpired(AuthTuiError):
    """The token exists but has expired: no session or pairing can be made for it."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"the token '{escape_controls(ref)}' has expired",
            hint="rotate it, or edit its expiry, to use it again",
        )
        self.ref = ref


class SessionNotFound(AuthTuiError):
    def __init__(self, ref: str) -> None:
        # As for tokens: a pasted session id (the cookie's secret) is not echoed.
        if ref.strip().startswith((SESSION_PREFIX, PAIRING_PREFIX, PREFIX)):
            message = (
                f"no session with id '{make_hint(ref.strip())}'; that looks like a secret - "
                "give the session's short id (session list)"
            )
        else:
            message = f"no session with id '{escape_controls(ref)}'"
        super().__init__(message)
        self.ref = ref


# --- the store file: exit code 3, the file is never touched ---------------------


class StoreError(AuthTuiError):
    """Something is wrong with the store itself; it names the file (or the
    database, by its URL with the password masked)."""

    def __init__(self, path: Path | str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {problem}", hint=hint)
        self.path = path
        self.problem = problem


class StoreUnreadable(StoreError):
    """The file exists but cannot be read (permissions, a directory, I/O error)."""


class StoreCorrupt(StoreError):
    """The file is not a valid store document (bad JSON, truncated, invalid fields)."""


class StoreVersionUnsupported(StoreError):
    """The file declares a `version` this build does not understand."""


class LegacyStoreFound(StoreError):
    """The file is in the PR #8217 format: readable, but it must be migrated first."""


class NotLegacyStore(StoreError):
    """`migrate` was asked for, but the file is not in the PR #8217 format."""


class StoreUnsafe(StoreError):
    """The file or its folder could be changed by someone else (another owner,
    group- or world-writable, or reached through a symlink in a shared folder):
    refused, as ssh's StrictModes refuses such files, and never written."""


class StoreReadOnly(StoreError):
    """The file has no write permission for its owner: changes are refused, not forced."""


class StoreWriteFailed(StoreError):
    """Writing failed (read-only folder, disk full, ...); the previous file is intact."""


class StoreLocked(StoreError):
    """Another process held the store lock for longer than the timeout."""


class StoreLocationInvalid(InputError):
    """`--store` or `$OPENCODE_AUTH_TOKENS_URL` names a database in a way that is
    refused before connecting: a malformed URL, or one with a password in it."""


class EngineUnavailable(InputError):
    """The store is a database, but its optional extra (psycopg) is not installed."""


# --- a database store: exit code 3 (a StoreError), nothing changed ---------------


class StoreUnavailable(StoreError):
    """The database cannot be reached or refused the connection (down, wrong
    password, no such database, TLS failure); the reason is libpq's, in one line."""


class SchemaMissing(StoreError):
    """The database has no token store schema yet: `db init` creates it."""


class SchemaOutdated(StoreError):
    """The database's schema is older than this build's: `db upgrade` brings it up."""
