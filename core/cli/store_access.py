"""How the CLI reaches the store: opened from `--store` or the environment,
loaded with its warnings said once, and asked what it can do (a capability
protocol of core.store, never its engine)."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

from core.cli.console import Console
from core.cli.exits import UsageError
from core.cli.output import warn
from core.store import HasFileMode, KeepsFiles, Snapshot, Store
from core.store.location import StoreLocation, resolve_store


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


def load(store: Store, console: Console) -> Snapshot[Hashable]:
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


# --- what only some engines can do: asked of the store, never by engine --------------


def mode_warnings(store: Store) -> tuple[str, ...]:
    """A store file's mode warnings, from a stat rather than a second read of the
    whole file; a database has none."""
    return store.mode_warnings() if isinstance(store, HasFileMode) else ()


def kept_files(store: Store) -> tuple[Path, ...]:
    """The files the store keeps its tokens in (never served; none for a database)."""
    return store.kept_files() if isinstance(store, KeepsFiles) else ()


def startup_snapshot(location: StoreLocation) -> Snapshot[Hashable]:
    """The store as a server finds it at start: read whole and validated (a database:
    reachable, with its schema)."""
    from core.store.engines import open_store

    store = open_store(location)
    try:
        return store.load()
    finally:
        store.close()
