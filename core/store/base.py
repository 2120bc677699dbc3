"""The token store's interface: the operations on tokens (`Store`), the same on
every engine, with the browser-session and pairing-link operations it inherits
(signins.py), and what they return (snapshot.py)."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.model.expiry import DEFAULT_EXPIRY, lifetime_of, parse_expiry
from core.model.names import validate_name, validate_note
from core.model.permissions import Permission
from core.model.records import (
    TokenRecord,
)
from core.model.token_format import (
    digest,
    generate,
    new_id,
)
from core.store.capabilities import RecordSource
from core.store.changes import (
    ENDS_SESSIONS,
    Changing,
    T,
    Used,
    check_name_free,
    clean_directories,
    generated_name,
    permissions_of,
    usage_batch,
)
from core.store.signins import SignInOperations
from core.store.snapshot import (
    Copied,
    Edited,
    Issued,
    Snapshot,
)


class Store(SignInOperations, ABC):
    """The token operations - create, list, find, edit, delete, rotate, prune,
    record usage - and the browser sessions and pairing links of tokens, the same
    on every engine: the JSON file (`TokenStore`) or a database. Each change is a
    function over the records (`Changing`), applied by the engine's `_mutate`
    atomically (the file: under its lock, re-read first).

    A token's sessions and pairings end with it: `delete`, `rotate`, `prune`, and
    an `edit` of its permissions, directories or expiry remove them in the same
    change (a new name or note does not). Expired sessions and pairings are
    dropped by every change that changes something.

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
    def _mutate(self, change: Callable[[Changing], T]) -> T:
        """Apply `change` to the current records atomically: either all of what it
        did is stored, or nothing (and nothing is written when it changed nothing).
        An engine calls `_settle` on what changed before storing it."""

    @abstractmethod
    def version(self) -> Hashable:
        """A cheap marker of the store's current version (no read of the records):
        watchers (the TUI) compare it to notice changes made elsewhere."""

    @abstractmethod
    def new_reader(self) -> RecordSource:
        """A reader of this store for an authorizer (its own cache)."""

    def startup_check(self) -> tuple[bool, int, tuple[str, ...]]:
        """(whether the store exists, how many tokens it holds, its warnings), read
        and validated as `load` reads it (the same StoreError): what a server
        checks before it starts. An engine may do it without building records."""
        snapshot = self.load()
        return snapshot.exists, len(snapshot.records), snapshot.warnings

    def close(self) -> None:
        """Let go of connections (the file engine holds none)."""

    def _settle(self, state: Changing) -> None:
        """What every change that changed something also does: drop the sessions
        and pairings that have expired."""
        state.drop_expired(self.now())

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
        name_stem: str = "token",
    ) -> Issued:
        """A new token. Defaults: a generated name (`token-N`, or `<name_stem>-N`),
        all permissions, 90 days, no note, every directory the server serves."""
        clean_name = None if name is None else validate_name(name)
        perms = permissions_of(permissions)
        clean_note = None if note is None else validate_note(note)
        dirs = clean_directories(directories)
        now = self.now()
        expires_at = parse_expiry(expires, now)
        secret = generate(self.token_bytes)

        def change(state: Changing) -> TokenRecord:
            records = state.tokens
            if clean_name is not None:
                check_name_free(clean_name, records)
            # An id must not equal a name either: lookups try ids first, so
            # the named token would become unreachable by its name.
            taken = {r.id for r in records} | {r.name.casefold() for r in records}
            record = TokenRecord(
                id=self._new_id(taken),
                name=clean_name or generated_name({r.name for r in records}, name_stem),
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
        A new expiry counts from now. New permissions, directories or expiry end
        the token's browser sessions and pairing links (`Edited.ended`)."""
        clean_name = None if name is None else validate_name(name)
        clean_note = None if note is None else validate_note(note)
        perms = None if permissions is None else permissions_of(permissions)
        dirs = None if directories is None else clean_directories(directories)
        now = self.now()
        expires_at = None if expires is None else parse_expiry(expires, now)

        def change(state: Changing) -> Edited:
            records = state.tokens
            old = self._snapshot_of(records).require(ref)
            update: dict[str, Any] = {}
            if clean_name is not None and clean_name != old.name:
                check_name_free(clean_name, [r for r in records if r.id != old.id])
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
            new = dataclasses.replace(old, **update)
            records[records.index(old)] = new
            ended = state.end_of({old.id}) if ENDS_SESSIONS.intersection(update) else ()
            return Edited(old, new, tuple(update), ended)

        return self._mutate(change)

    def delete(self, refs: Sequence[str]) -> tuple[TokenRecord, ...]:
        """Delete every token named by id or name, with its sessions and pairing
        links; all or nothing."""
        if isinstance(refs, str):  # a str is a Sequence[str] too: "ab" is not ["a", "b"]
            raise TypeError("delete() takes a list of ids or names, not a single string")

        def change(state: Changing) -> tuple[TokenRecord, ...]:
            records = state.tokens
            snapshot = self._snapshot_of(records)
            doomed = {r.id: r for r in (snapshot.require(ref) for ref in refs)}
            records[:] = [r for r in records if r.id not in doomed]
            state.end_of(doomed)
            return tuple(doomed.values())

        return self._mutate(change)

    def rotate(
        self, ref: str, *, expires: str | None = None, directories: Iterable[str] | None = None
    ) -> Issued:
        """A new secret for an existing token: same id, name and permissions.

        The old secret stops working at once, and so do the browser sessions
        and pairing links made with it. Expiry defaults to the token's original
        lifetime (or never), counted from now; directories stay unless given.
        """
        now = self.now()
        if expires is not None:
            parse_expiry(expires, now)  # refuse bad input before taking the lock
        dirs = None if directories is None else clean_directories(directories)
        secret = generate(self.token_bytes)

        def change(state: Changing) -> TokenRecord:
            records = state.tokens
            old = self._snapshot_of(records).require(ref)
            spec = expires if expires is not None else lifetime_of(old.created_at, old.expires_at)
            new = dataclasses.replace(
                old,
                created_at=now,
                expires_at=parse_expiry(spec, now),
                last_used_at=None,
                last_used_from=None,
                hint=secret.hint,
                digest=digest(secret.reveal()),
                legacy=False,
                directories=old.directories if dirs is None else dirs,
            )
            records[records.index(old)] = new
            state.end_of({old.id})
            return new

        return Issued(self._mutate(change), secret)

    def prune(self, only: Collection[str] | None = None) -> tuple[TokenRecord, ...]:
        """Delete expired tokens (limited to the ids in `only`, if given)."""
        now = self.now()

        def change(state: Changing) -> tuple[TokenRecord, ...]:
            records = state.tokens
            gone = tuple(r for r in records if r.is_expired(now) and (only is None or r.id in only))
            ids = {r.id for r in gone}
            if ids:
                records[:] = [r for r in records if r.id not in ids]
                state.end_of(ids)
            return gone

        return self._mutate(change)

    def record_usage(self, used: Mapping[str, Used]) -> int:
        """Set `last_used_at` and `last_used_from` for the given ids (later times
        win; a bare time: from an unknown address); returns how many changed.

        Ids no longer in the store (deleted meanwhile) are ignored.
        """
        batch = usage_batch(used)

        def change(state: Changing) -> int:
            records = state.tokens
            changed = 0
            for i, record in enumerate(records):
                got = batch.get(record.id)
                if got is None:
                    continue
                when, client = got
                if record.last_used_at is None or when > record.last_used_at:
                    records[i] = dataclasses.replace(
                        record, last_used_at=when, last_used_from=client
                    )
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

        def change(state: Changing) -> Copied:
            records = state.tokens
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
