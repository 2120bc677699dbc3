"""Where tokens live: the `Store` interface, the same on every engine, and its
engines - the JSON file (file/) and PostgreSQL (pg/, the [postgres] extra).

Callers hold a `Store` and ask it what it can do; they never name an engine.
"""

from __future__ import annotations

from core.store.base import Store
from core.store.capabilities import (
    ChecksWritable,
    HasFileMode,
    HasSchema,
    KeepsFiles,
    Migratable,
    RecordSource,
)
from core.store.changes import Used, clean_directories, generated_name
from core.store.entries import Entries, TokenEntry
from core.store.file.engine import DEFAULT_LOCK_TIMEOUT, TokenStore, serialize
from core.store.file.reading import (
    FileSnapshot,
    Fingerprint,
    StoreReader,
    file_warnings,
    parse_document,
    parse_store,
    read_snapshot,
)
from core.store.snapshot import (
    Copied,
    Edited,
    Issued,
    IssuedPairing,
    IssuedSession,
    Migration,
    PairingState,
    PairingStatus,
    SchemaChange,
    Snapshot,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "ChecksWritable",
    "Copied",
    "Edited",
    "Entries",
    "FileSnapshot",
    "Fingerprint",
    "HasFileMode",
    "HasSchema",
    "Issued",
    "IssuedPairing",
    "IssuedSession",
    "KeepsFiles",
    "Migratable",
    "Migration",
    "PairingState",
    "PairingStatus",
    "RecordSource",
    "SchemaChange",
    "Snapshot",
    "Store",
    "StoreReader",
    "TokenEntry",
    "TokenStore",
    "Used",
    "clean_directories",
    "file_warnings",
    "generated_name",
    "parse_document",
    "parse_store",
    "read_snapshot",
    "serialize",
]
