"""How the CLI reaches the store: opened from `--store` or the environment,
loaded with its warnings said once, and asked what it can do (a capability
protocol of core.store, never its engine)."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

from core.cli.console import Console
from core.cli.exits import UsageError
from core.cli.output import note, warn
from core.model.text import escape_controls
from core.store import ChecksWritable, HasFileMode, KeepsFiles, Snapshot, Store
from core.store.location import StoreLocation, default_store_path, resolve_store


def check_store_flag(flag: str | None) -> None:
    if flag is not None and not flag.strip():
        # `--store "$UNSET"` must not quietly mean the real store.
        raise UsageError(
            "--store is empty: give the store file's path or a postgresql:// URL, or leave it out"
        )


def named_location(flag: str | None) -> StoreLocation:
    """Where the store `--store` / the environment names is: a file, or a database.
    A `--store` file in a folder that does not exist is refused (exit 2), so that
    a mistyped path never quietly becomes a new store in new folders; the
    environment's file and the default location make their folder when needed."""
    check_store_flag(flag)
    location = resolve_store(flag)
    if flag is not None and isinstance(location, Path):
        check_folder(location, "--store")
    return location


def check_folder(path: Path, flag: str) -> None:
    """Refuse a store file named by `flag` whose folder is missing (or is no
    folder), unless it is the default location's folder, which a first
    `token create` makes."""
    folder = path.parent
    if folder.is_dir() or folder == default_store_path().parent:
        return
    shown, where = escape_controls(str(path)), escape_controls(str(folder))
    if folder.exists() or folder.is_symlink():
        raise UsageError(f"{flag} {shown}: {where} is not a folder; correct the path")
    raise UsageError(
        f"{flag} {shown}: the folder {where} does not exist; correct the path, or create "
        f"the folder first: mkdir -p -m 700 '{where}'"
    )


def open_named(flag: str | None) -> Store:
    """The store `--store` / the environment names: the file, or a database."""
    from core.store.engines import open_store

    return open_store(named_location(flag))


def store_file(store: Store) -> Path | None:
    """The file a store keeps its tokens in (None: a database)."""
    kept = kept_files(store)
    return kept[-1] if kept else None


def say_if_created(store: Store, existed: bool, console: Console) -> None:
    """`Created the token store FILE.` on stderr, when a command has just made the
    store's file (`existed`: whether it was there before): a first token must
    not leave a person wondering where it went."""
    path = store_file(store)
    if not existed and path is not None and path.exists():
        note(console, f"Created the token store {escape_controls(str(path))}.")


def file_exists(store: Store) -> bool:
    """Whether the store's file is there (a database always is)."""
    path = store_file(store)
    return path is None or path.exists()


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


def write_problem(store: Store) -> str | None:
    """Why the store cannot be written, from a check that writes nothing (None:
    it can, as far as the check tells, or the engine cannot tell)."""
    return store.write_problem() if isinstance(store, ChecksWritable) else None


def kept_files(store: Store) -> tuple[Path, ...]:
    """The files the store keeps its tokens in (never served; none for a database)."""
    return store.kept_files() if isinstance(store, KeepsFiles) else ()


def startup_snapshot(location: StoreLocation) -> tuple[bool, int, tuple[str, ...]]:
    """The store as a server finds it at start: (whether it exists, its token count,
    its warnings), read whole and validated (a database: reachable, with its
    schema) - `Store.startup_check`, which the file does without a record per token."""
    from core.store.engines import open_store

    store = open_store(location)
    try:
        return store.startup_check()
    finally:
        store.close()
