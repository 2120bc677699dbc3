"""Connecting to the database (libpq's own credentials, never a password in a
URL) and turning its errors into the store's typed errors."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from core.model.errors import (
    StoreCorrupt,
    StoreError,
    StoreLocationInvalid,
    StoreLocked,
    StoreUnavailable,
    StoreUnreadable,
    StoreWriteFailed,
)
from core.model.text import escape_controls
from core.store.pg import schema
from core.store.pg.schema import SCHEMA
from core.store.pg.url import mask_url

DEFAULT_CONNECT_TIMEOUT = 5
APPLICATION_NAME = "opencode-auth-tui"

Conn = psycopg.Connection[tuple[Any, ...]]


def connection_parameters(url: str) -> dict[str, Any]:
    """The URL as libpq reads it; a malformed one is StoreLocationInvalid (exit 2)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreLocationInvalid(
            f"the store URL {mask_url(url)} is malformed: {one_line(exc)}"
        ) from None
    for port in str(params.get("port", "")).split(","):
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise StoreLocationInvalid(
                f"the store URL {mask_url(url)} is malformed: "
                f"the port {escape_controls(port)!r} is not a number from 1 to 65535"
            )
    return params


def one_line(exc: BaseException) -> str:
    """libpq's message on one line (it spreads one over several, with tabs)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines) or type(exc).__name__
    return escape_controls(text if len(text) <= 400 else text[:399] + "…")


_PSYCOPG_PREFIXES = ("connection failed: ", "connection is bad: ")


def unavailable(location: str, exc: BaseException) -> StoreUnavailable:
    reason = one_line(exc)
    for prefix in _PSYCOPG_PREFIXES:
        reason = reason.removeprefix(prefix)
    lowered = reason.lower()
    if "password" in lowered or "authentication" in lowered:
        hint = "check PGPASSWORD, ~/.pgpass or PGPASSFILE, the service file, and the user name"
    elif "does not exist" in lowered and "database" in lowered:
        hint = "create the database with createdb, or fix its name in the URL"
    elif "ssl" in lowered or "certificate" in lowered:
        hint = "check sslmode, sslrootcert and the server's certificate"
    else:
        hint = "is the database server running and reachable? check the host and port"
    return StoreUnavailable(location, f"cannot connect to the database: {reason}", hint=hint)


def connect(url: str, location: str, *, autocommit: bool = False) -> Conn:
    """A connection in UTC (timestamps come back as UTC, as the file holds them),
    with a connect timeout unless the URL or the environment sets one."""
    params = connection_parameters(url)
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params and not os.environ.get("PGCONNECT_TIMEOUT"):
        extra["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    if "application_name" not in params and not os.environ.get("PGAPPNAME"):
        extra["application_name"] = APPLICATION_NAME
    try:
        conn = psycopg.connect(url, autocommit=autocommit, **extra)
    except psycopg.Error as exc:
        raise unavailable(location, exc) from None
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise unavailable(location, exc) from None
    return conn


class Connection:
    """One connection, opened when first needed (and the schema checked then);
    a broken one is dropped, and the next use connects again."""

    def __init__(self, url: str, location: str, *, check_schema: bool = True) -> None:
        self.url = url
        self.location = location
        self.check_schema = check_schema
        self._conn: Conn | None = None

    def get(self) -> Conn:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self.drop()
        conn = connect(self.url, self.location)
        if self.check_schema:
            try:
                schema.require_current(conn, self.location)
                conn.commit()
            except StoreError:
                conn.close()
                raise
            except psycopg.Error as exc:
                conn.close()
                raise translate(exc, self.location, reading=True) from None
        self._conn = conn
        return conn

    def is_open(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.closed and not conn.broken

    def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def translate(exc: psycopg.Error, location: str, *, reading: bool) -> StoreError:
    """A psycopg error as the StoreError a user can act on (one line, no password)."""
    if isinstance(exc, pg_errors.LockNotAvailable):
        return StoreLocked(
            location,
            "another writer has held the token store's lock for too long",
            hint="wait for the other opencode-auth-tui to finish, then retry",
        )
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        verb = "read" if reading else "change"
        return StoreUnreadable(
            location,
            f"the database role may not {verb} the token store: {one_line(exc)}",
            hint=f"GRANT the role access to schema {SCHEMA} (see docs/postgresql.md)",
        )
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.InvalidSchemaName):
        return StoreCorrupt(
            location,
            f"the token store's tables are incomplete: {one_line(exc)}",
            hint="run: opencode-auth-tui --store URL db upgrade",
        )
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return unavailable(location, exc)
    if reading:
        return StoreUnreadable(location, f"could not read the token store: {one_line(exc)}")
    return StoreWriteFailed(
        location, f"could not change the token store: {one_line(exc)}; nothing was changed"
    )


# --- rows and records ---------------------------------------------------------------
