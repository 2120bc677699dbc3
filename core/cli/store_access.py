"""How the CLI reaches the store, and every place it needs something only one
engine has - one small function per need.

Callers should ask a store what it can do, never which engine it is (STYLE.md).
Until the Store interface says that itself (capability protocols), the engine
checks the CLI still needs live here and nowhere else, so the next change to the
interface replaces them in this one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from core.cli.console import Console
from core.cli.exits import UsageError
from core.cli.output import warn
from core.store import RecordSource, Snapshot, Store, TokenStore, file_warnings, read_snapshot
from core.store.location import StoreLocation, resolve_store

if TYPE_CHECKING:
    from core.store.pg.engine import PostgresStore
    from core.store.pg.schema import SchemaChange


def check_store_flag(flag: str | None) -> None:
    if flag is not None and not flag.strip():
        # `--store "$UNSET"` must not quietly mean the real store.
        raise UsageError(
            "--store is empty: give the store file's path or a postgresql:// URL, or leave it out"
        )


def open_named(flag: str | None) -> Store:
    """The store `--store` / the environment names: the file, or a database."""
    from core.store.engines import open_store

    check_store_flag(flag)
    return open_store(resolve_store(flag))


def load(store: Store, console: Console) -> Snapshot:
    """Every record, with the store's warnings (an open file mode, ...) said once."""
    snapshot = store.load()
    for warning in snapshot.warnings:
        warn(console, warning)
    return snapshot


def warn_about_mode(store: Store, console: Console) -> None:
    """Mode warnings for commands that do not `load` the store themselves (create,
    edit and rotate change it, check hands it to an authorizer): from a stat, not
    a second read of the whole file."""
    for warning in mode_warnings(store):
        warn(console, warning)


# --- what only one engine has ---------------------------------------------------------


def mode_warnings(store: Store) -> tuple[str, ...]:
    """A store file's mode warnings, from a stat rather than a second read of the
    whole file; a database has none."""
    if isinstance(store, TokenStore):
        return file_warnings(store.path)
    return ()


def store_file(store: Store) -> Path | None:
    """The file behind a file store (its real path); None for a database."""
    return store.path if isinstance(store, TokenStore) else None


def authorizer_source(store: Store, location: StoreLocation | None) -> Path | RecordSource:
    """What a CachedAuthorizer reads: a file by its path (re-read when its stat
    changes), otherwise the engine's own reader."""
    return location if isinstance(location, Path) else store.new_reader()


def legacy_convertible(store: Store) -> TokenStore | None:
    """The store if it is a file, the only place a PR #8217 token list can be."""
    return store if isinstance(store, TokenStore) else None


def open_file(path: Path) -> TokenStore:
    """A store file by path, whatever the environment names (`migrate --to`'s
    source, `export --to`'s target)."""
    return TokenStore(path)


def change_schema(store: Store, action: Literal["init", "upgrade"]) -> SchemaChange:
    """`db init` / `db upgrade`: only a database store has a schema (the caller
    has checked the location is a URL)."""
    database = cast("PostgresStore", store)
    return database.init_schema() if action == "init" else database.upgrade_schema()


def startup_snapshot(location: StoreLocation) -> Snapshot:
    """The store as a server finds it at start: a file read whole and validated,
    a database loaded once (reachable, with its schema)."""
    if isinstance(location, Path):
        return read_snapshot(location)
    from core.store.engines import open_store

    store = open_store(location)
    try:
        return store.load()
    finally:
        store.close()
