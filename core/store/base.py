"""The token store's interface: the operations on tokens (`Store`), the same on
every engine, and what they return (`Snapshot`, `Issued`, ...)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.model.directories import BadDirectory, normalize_directory
from core.model.errors import (
    DuplicateName,
    InvalidDirectory,
    InvalidPermissions,
)
from core.model.expiry import DEFAULT_EXPIRY, lifetime_of, parse_expiry
from core.model.names import require_plain_text, validate_name, validate_note
from core.model.permissions import ALL_PERMISSIONS, Permission, canonical, parse_permissions
from core.model.records import TokenRecord
from core.model.text import escape_controls
from core.model.token_format import digest, generate, new_id
from core.store.capabilities import RecordSource
from core.store.snapshot import Copied, Edited, Issued, Snapshot

T = TypeVar("T")

_GENERATED_NAME = re.compile(r"token-([0-9]{1,9})", re.IGNORECASE)


"""An engine's version marker: the file's `Fingerprint`, a database's `Change`."""


class Store(ABC):
    """The token operations - create, list, find, edit, delete, rotate, prune,
    record usage - the same on every engine: the JSON file (`TokenStore`) or a
    database. Each change is a function over the list of records, applied by the
    engine's `_mutate` atomically (the file: under its lock, re-read first).

    `clock` and `token_bytes` are injected so tests and snapshots are deterministic.
    Methods that change the store return what they did; they raise `InputError`s
    for bad input before touching anything, `TokenNotFound` for unknown
    references and `StoreError`s for problems with the store itself.
    """

    location: str
    """Where the tokens are, for messages: the file's path, or the database's
    URL with its password masked."""

    def __init__(
        self, *, clock: Clock = system_clock, token_bytes: TokenBytes = system_token_bytes
    ) -> None:
        self.clock = clock
        self.token_bytes = token_bytes
        self.last_written: Snapshot[Hashable] | None = None
        """What the last change wrote (based on which version, and what changed)."""

    def now(self) -> datetime:
        return to_utc(self.clock()).replace(microsecond=0)

    # --- what an engine provides ----------------------------------------------------

    @abstractmethod
    def load(self) -> Snapshot[Hashable]:
        """Every record, as of now (an unchanged store is not read again)."""

    @abstractmethod
    def _mutate(self, change: Callable[[list[TokenRecord]], T]) -> T:
        """Apply `change` to the current records atomically: either all of what it
        did is stored, or nothing (and nothing is written when it changed nothing)."""

    @abstractmethod
    def version(self) -> Hashable:
        """A cheap marker of the store's current version (no read of the records):
        watchers (the TUI) compare it to notice changes made elsewhere."""

    @abstractmethod
    def new_reader(self) -> RecordSource:
        """A reader of this store for an authorizer (its own cache)."""

    def close(self) -> None:  # noqa: B027 - an engine without connections has nothing to do
        """Let go of connections (the file engine holds none)."""

    # --- reading ------------------------------------------------------------------

    def tokens(self) -> tuple[TokenRecord, ...]:
        return self.load().records

    def get(self, ref: str) -> TokenRecord:
        return self.load().require(ref)

    # --- changing -----------------------------------------------------------------

    def create(
        self,
        *,
        name: str | None = None,
        permissions: str | Iterable[Permission] | None = None,
        expires: str = DEFAULT_EXPIRY,
        note: str | None = None,
        directories: Iterable[str] = (),
    ) -> Issued:
        """A new token. Defaults: a generated name, all permissions, 90 days,
        no note, every directory the server serves."""
        clean_name = None if name is None else validate_name(name)
        perms = _permissions(permissions)
        clean_note = None if note is None else validate_note(note)
        dirs = clean_directories(directories)
        now = self.now()
        expires_at = parse_expiry(expires, now)
        secret = generate(self.token_bytes)

        def change(records: list[TokenRecord]) -> TokenRecord:
            if clean_name is not None:
                _check_name_free(clean_name, records)
            # An id must not equal a name either: lookups try ids first, so
            # the named token would become unreachable by its name.
            taken = {r.id for r in records} | {r.name.casefold() for r in records}
            record = TokenRecord(
                id=self._new_id(taken),
                name=clean_name or generated_name({r.name for r in records}),
                permissions=perms,
                created_at=now,
                expires_at=expires_at,
                last_used_at=None,
                hint=secret.hint,
                digest=digest(secret.reveal()),
                note=clean_note,
                directories=dirs,
            )
            records.append(record)
            return record

        return Issued(self._mutate(change), secret)

    def edit(
        self,
        ref: str,
        *,
        name: str | None = None,
        note: str | None = None,
        permissions: str | Iterable[Permission] | None = None,
        directories: Iterable[str] | None = None,
        expires: str | None = None,
    ) -> Edited:
        """Change a token's name, note, permissions, directories or expiry; its
        secret, id and creation time stay. `None` leaves a field as it is; an
        empty note removes the note and empty directories mean every directory.
        A new expiry counts from now."""
        clean_name = None if name is None else validate_name(name)
        clean_note = None if note is None else validate_note(note)
        perms = None if permissions is None else _permissions(permissions)
        dirs = None if directories is None else clean_directories(directories)
        now = self.now()
        expires_at = None if expires is None else parse_expiry(expires, now)

        def change(records: list[TokenRecord]) -> Edited:
            old = self._snapshot_of(records).require(ref)
            update: dict[str, object] = {}
            if clean_name is not None and clean_name != old.name:
                _check_name_free(clean_name, [r for r in records if r.id != old.id])
                update["name"] = clean_name
            if note is not None and clean_note != old.note:
                update["note"] = clean_note
            if perms is not None and perms != old.permissions:
                update["permissions"] = perms
            if dirs is not None and dirs != old.directories:
                update["directories"] = dirs
            if expires is not None and expires_at != old.expires_at:
                update["expires_at"] = expires_at
            if not update:
                return Edited(old, old, ())
            new = old.model_copy(update=update)
            records[records.index(old)] = new
            return Edited(old, new, tuple(update))

        return self._mutate(change)

    def delete(self, refs: Sequence[str]) -> tuple[TokenRecord, ...]:
        """Delete every token named by id or name; all or nothing."""
        if isinstance(refs, str):  # a str is a Sequence[str] too: "ab" is not ["a", "b"]
            raise TypeError("delete() takes a list of ids or names, not a single string")

        def change(records: list[TokenRecord]) -> tuple[TokenRecord, ...]:
            snapshot = self._snapshot_of(records)
            doomed = {r.id: r for r in (snapshot.require(ref) for ref in refs)}
            records[:] = [r for r in records if r.id not in doomed]
            return tuple(doomed.values())

        return self._mutate(change)

    def rotate(
        self, ref: str, *, expires: str | None = None, directories: Iterable[str] | None = None
    ) -> Issued:
        """A new secret for an existing token: same id, name and permissions.

        The old secret stops working at once. Expiry defaults to the token's
        original lifetime (or never), counted from now; directories stay unless
        given.
        """
        now = self.now()
        if expires is not None:
            parse_expiry(expires, now)  # refuse bad input before taking the lock
        dirs = None if directories is None else clean_directories(directories)
        secret = generate(self.token_bytes)

        def change(records: list[TokenRecord]) -> TokenRecord:
            old = self._snapshot_of(records).require(ref)
            spec = expires if expires is not None else lifetime_of(old.created_at, old.expires_at)
            new = old.model_copy(
                update={
                    "created_at": now,
                    "expires_at": parse_expiry(spec, now),
                    "last_used_at": None,
                    "hint": secret.hint,
                    "digest": digest(secret.reveal()),
                    "legacy": False,
                    **({} if dirs is None else {"directories": dirs}),
                }
            )
            records[records.index(old)] = new
            return new

        return Issued(self._mutate(change), secret)

    def prune(self, only: Collection[str] | None = None) -> tuple[TokenRecord, ...]:
        """Delete expired tokens (limited to the ids in `only`, if given)."""
        now = self.now()

        def change(records: list[TokenRecord]) -> tuple[TokenRecord, ...]:
            gone = tuple(r for r in records if r.is_expired(now) and (only is None or r.id in only))
            ids = {r.id for r in gone}
            records[:] = [r for r in records if r.id not in ids]
            return gone

        return self._mutate(change)

    def record_usage(self, used: Mapping[str, datetime]) -> int:
        """Set `last_used_at` for the given ids (later times win); returns how many changed.

        Ids no longer in the store (deleted meanwhile) are ignored.
        """

        def change(records: list[TokenRecord]) -> int:
            changed = 0
            for i, record in enumerate(records):
                when = used.get(record.id)
                if when is None:
                    continue
                when = to_utc(when).replace(microsecond=0)
                if record.last_used_at is None or when > record.last_used_at:
                    records[i] = record.model_copy(update={"last_used_at": when})
                    changed += 1
            return changed

        return self._mutate(change)

    def copy_in(self, incoming: Iterable[TokenRecord]) -> Copied:
        """Add another store's records as they are (same ids, secrets' digests and
        times), all in one change: `migrate --to` and `export --to`.

        Idempotent: a record already here with the same id and digest is skipped
        (`present`); one that clashes - its id with another secret, its secret
        under another id, its name (ignoring case) or id taken - is not copied and
        is reported with why (`conflicts`)."""
        wanted = list(incoming)

        def change(records: list[TokenRecord]) -> Copied:
            by_id = {r.id: r for r in records}
            by_digest = {r.digest: r for r in records}
            by_name = {r.name.casefold(): r for r in records}
            copied: list[TokenRecord] = []
            present: list[TokenRecord] = []
            conflicts: list[tuple[TokenRecord, str]] = []
            for record in wanted:
                same_id = by_id.get(record.id)
                if same_id is not None:
                    if same_id.digest == record.digest:
                        present.append(record)
                    else:
                        conflicts.append((record, f"id {record.id} is there with another secret"))
                    continue
                clash = by_digest.get(record.digest)
                if clash is not None:
                    conflicts.append((record, f"its secret is there as token {clash.id}"))
                    continue
                clash = by_name.get(record.name.casefold()) or by_name.get(record.id)
                if clash is not None:
                    conflicts.append(
                        (record, f"the name is taken by token {clash.id}")
                        if clash.name.casefold() == record.name.casefold()
                        else (record, f"its id is the name of token {clash.id}")
                    )
                    continue
                if record.name in by_id:
                    conflicts.append((record, f"its name is the id of token {record.name}"))
                    continue
                records.append(record)
                by_id[record.id] = by_digest[record.digest] = record
                by_name[record.name.casefold()] = record
                copied.append(record)
            return Copied(tuple(copied), tuple(present), tuple(conflicts))

        return self._mutate(change)

    def _new_id(self, taken: Collection[str]) -> str:
        for _ in range(1000):
            candidate = new_id(self.token_bytes)
            if candidate not in taken:
                return candidate
        raise RuntimeError("token_bytes keeps returning the same bytes")

    def _snapshot_of(self, records: list[TokenRecord]) -> Snapshot[None]:
        """The records being changed, to look a reference up in."""
        return Snapshot(self.location, tuple(records), True, None)


def _permissions(value: str | Iterable[Permission] | None) -> tuple[Permission, ...]:
    if value is None:
        return canonical(ALL_PERMISSIONS)
    if isinstance(value, str):
        return parse_permissions(value)
    try:
        perms = canonical(Permission(p) for p in value)
    except ValueError:
        raise InvalidPermissions("permissions: choose from read, write, execute") from None
    if not perms:
        raise InvalidPermissions("permissions: at least one of read, write, execute is required")
    return perms


def clean_directories(directories: Iterable[str]) -> tuple[str, ...]:
    """A token's directories: absolute, canonical, each once, in the order given.

    Plain text only, as names are: a directory is shown in tables, details and
    the access log, and a pasted escape sequence or newline is a mistake.
    """
    if isinstance(directories, str):
        raise TypeError("directories is a list of paths, not a single string")
    out: dict[str, None] = {}
    for raw in directories:
        try:
            clean = normalize_directory(raw.strip())
        except BadDirectory as exc:
            raise InvalidDirectory(f"directory: {exc}") from None
        require_plain_text(clean, "directory", InvalidDirectory, plural="directories")
        out[clean] = None
    return tuple(out)


def _check_name_free(name: str, records: Iterable[TokenRecord]) -> None:
    folded = name.casefold()
    for record in records:
        if record.name.casefold() == folded:
            raise DuplicateName(
                f"a token named '{escape_controls(record.name)}' already exists (id {record.id})"
            )
        if record.id == name:
            raise DuplicateName(f"'{name}' is another token's id; choose a different name")


def generated_name(taken: Collection[str]) -> str:
    """`token-N`, with N one above the highest generated name in use.

    Names are unique case-insensitively, so `TOKEN-3` written by hand counts too.
    """
    highest = 0
    folded = set()
    for name in taken:
        lowered = name.casefold()
        folded.add(lowered)
        if lowered.startswith("token-"):  # the regex only where it can match
            match = _GENERATED_NAME.fullmatch(name)
            if match:
                highest = max(highest, int(match.group(1)))
    n = highest + 1
    while f"token-{n}" in folded:
        n += 1
    return f"token-{n}"
