"""A token as a decision needs it (`TokenEntry`), and one version of the store
in those terms (`Entries`): what an authorizer holds for every token, at 100k
tokens too.

A `TokenRecord` is a pydantic model of twelve fields, about 3 KB in memory with
its strings and datetimes; a decision needs five of them. An entry keeps those
in slots - the digest as its 32 raw bytes, the permissions as one of the seven
shared sets, the expiry as one UTC datetime, the directories as a shared tuple -
and the name only as a number (the file's names must stay unique across a
re-read; that check needs no text)."""

from __future__ import annotations

import sys
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from core.model.permissions import Permission, canonical
from core.model.records import SessionRecord, TokenRecord
from core.model.token_format import DIGEST_PREFIX


class TokenEntry:
    """One token's id, raw SHA-256 digest, permissions, expiry (UTC), legacy flag
    and directories; `name_key` is `hash(name)`. Never changed once built."""

    __slots__ = ("digest", "directories", "expires", "id", "legacy", "name_key", "permissions")

    def __init__(
        self,
        id: str,
        digest: bytes,
        permissions: frozenset[Permission],
        expires: datetime | None,
        legacy: bool,
        directories: tuple[str, ...],
        name_key: int,
    ) -> None:
        self.id = id
        self.digest = digest
        self.permissions = permissions
        self.expires = expires
        self.legacy = legacy
        self.directories = directories
        self.name_key = name_key

    def same(self, other: TokenEntry) -> bool:
        """The same token in every field a decision reads (tests compare parses)."""
        return (
            self.id == other.id
            and self.digest == other.digest
            and self.permissions == other.permissions
            and self.expires == other.expires
            and self.legacy == other.legacy
            and self.directories == other.directories
            and self.name_key == other.name_key
        )

    def __repr__(self) -> str:  # never the digest: it is as good as a secret's fingerprint
        return f"TokenEntry(id={self.id!r}, permissions={sorted(self.permissions)})"


_PERMISSION_SETS: dict[tuple[str, ...], frozenset[Permission]] = {}
_SHARED: dict[frozenset[Permission], frozenset[Permission]] = {}
_DIRECTORIES: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
_MAX_SHARED = 4096


def permission_set(names: Sequence[str]) -> frozenset[Permission]:
    """The shared set for these permissions, given as the file lists them (seven
    sets exist: one object each); ValueError for a name that is none."""
    key = tuple(names)
    found = _PERMISSION_SETS.get(key)
    if found is None:
        value = frozenset(canonical(Permission(name) for name in key))
        found = _PERMISSION_SETS.setdefault(key, _SHARED.setdefault(value, value))
    return found


def directory_tuple(directories: Sequence[str]) -> tuple[str, ...]:
    """One shared tuple of interned strings per distinct list of directories
    (tokens of one project name the same few)."""
    key = tuple(directories)
    found = _DIRECTORIES.get(key)
    if found is None:
        found = tuple(sys.intern(d) for d in key)
        if len(_DIRECTORIES) < _MAX_SHARED:  # bounded: a store of all-different lists
            found = _DIRECTORIES.setdefault(key, found)
    return found


def raw_digest(digest: str) -> bytes:
    """`sha256:<hex>` as its 32 bytes."""
    return bytes.fromhex(digest.removeprefix(DIGEST_PREFIX))


def entry_of(record: TokenRecord) -> TokenEntry:
    """The entry of a validated record (any engine)."""
    expires = record.expires_at
    return TokenEntry(
        sys.intern(record.id),
        raw_digest(record.digest),
        permission_set(record.permissions),
        # the standard UTC: pydantic's own tzinfo makes every comparison with
        # `now` about 8x slower
        None if expires is None else expires.astimezone(UTC),
        record.legacy,
        directory_tuple(record.directories),
        hash(record.name),
    )


@dataclass(frozen=True, slots=True)
class Entries:
    """One version of the store, as an authorizer reads it: every token's entry
    (`entries`), or what changed since the version `based_on` (`delta`: entries
    gone, entries added), and the browser sessions (few: whole records)."""

    version: Hashable
    entries: Sequence[TokenEntry] | None
    delta: tuple[Sequence[TokenEntry], Sequence[TokenEntry]] | None
    based_on: Hashable
    sessions: tuple[SessionRecord, ...]
    read_at_ns: int = 0
