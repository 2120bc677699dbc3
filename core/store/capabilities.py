"""What only some engines can do, as protocols callers check for (never the
engine itself), and what an authorizer reads records through (`RecordSource`)."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.store.entries import Entries
from core.store.snapshot import Migration, SchemaChange, Snapshot


@runtime_checkable
class Migratable(Protocol):
    """Converts a PR #8217 (plain-text secrets) file in place, keeping a backup
    (the file engine: only a file can hold that format)."""

    def migrate(self) -> Migration: ...


@runtime_checkable
class HasSchema(Protocol):
    """Has a schema created and upgraded on request (`db init|upgrade`: a database)."""

    def init_schema(self) -> SchemaChange: ...

    def upgrade_schema(self) -> SchemaChange: ...


@runtime_checkable
class KeepsFiles(Protocol):
    """Keeps the tokens in files on this machine, which a server in front of
    opencode must never serve (the file engine: the file, its lock, backups and
    temporary files)."""

    def kept_files(self) -> tuple[Path, ...]:
        """The files (as given and as resolved) whose family is never served."""
        ...


@runtime_checkable
class HasFileMode(Protocol):
    """Lives in a file whose mode can be too open (group or others can read it)."""

    def mode_warnings(self) -> tuple[str, ...]:
        """Warnings about the file's mode, from a stat alone (no read)."""
        ...


@runtime_checkable
class ChecksWritable(Protocol):
    """Can tell, without writing, that a change would fail (a read-only file or
    folder, a database role that may only read): a gateway then says so once at
    start instead of failing to record `last_used_at` every few seconds."""

    def write_problem(self) -> str | None:
        """Why a change would fail, in a few words; None when nothing says so."""
        ...


class RecordSource(Protocol):
    """What an authorizer reads records through (`StoreReader` for the file):
    a cheap check per decision whether the version held is still the store's,
    and a read when it is not."""

    def stat_key(self) -> Hashable:
        """The store's current version marker, as cheaply as possible (the file:
        one stat; a database: the last change it announced)."""

    def is_current(self, key: Any) -> bool:  # Any: each engine has its own marker
        """Whether the version held is the one `key` (from `stat_key`) names."""

    def reload(self) -> Snapshot[Hashable] | Entries:
        """The store's current version, read (raises a StoreError; never falls
        back to an older version)."""

    @property
    def current(self) -> Snapshot[Hashable] | Entries | None: ...
