"""Opening the store a location names: the JSON file engine, or PostgreSQL.

The database engine needs psycopg (the optional `[postgres]` extra); it is
imported here, only when a database store is opened, so the base install and
every file-store command never load it.
"""

from __future__ import annotations

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes
from core.model.errors import EngineUnavailable
from core.store import Store, TokenStore
from core.store.location import StoreLocation

INSTALL_HINT = (
    "a PostgreSQL store needs psycopg: pip install 'opencode-auth-tui[postgres]' "
    "(from a clone of the repository: pip install '.[postgres]')"
)


def open_store(
    location: StoreLocation,
    *,
    clock: Clock = system_clock,
    token_bytes: TokenBytes = system_token_bytes,
) -> Store:
    """The engine for `location` (core.store.location.resolve_store); nothing is read yet."""
    if not isinstance(location, str):
        return TokenStore(location, clock=clock, token_bytes=token_bytes)
    try:
        from core.store.pg.engine import PostgresStore
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing.split(".")[0] != "psycopg" and "psycopg" not in str(exc):
            raise
        detail = "" if missing.split(".")[0] == "psycopg" else f" ({exc})"
        raise EngineUnavailable(INSTALL_HINT + detail) from None
    return PostgresStore(location, clock=clock, token_bytes=token_bytes)
