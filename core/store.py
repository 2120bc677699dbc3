"""The token store: the operations on tokens (`Store`), the same on every engine,
and the default engine (`TokenStore`): one JSON file, read whole, replaced
atomically under a lock.

Reads take no lock (writes are atomic renames, so a reader sees a whole file).
Every change is a read-modify-write inside `FileLock`, re-reading the file after
the lock is taken, so concurrent writers in different processes never lose each
other's tokens. A file that is corrupt, truncated, unreadable, of an unknown
version or in the old PR #8217 format raises a typed `StoreError` naming the path
and the problem, and is never written to: only `migrate` converts the old format,
and only when asked.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import stat
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from core import legacy
from core.atomic import (
    atomic_write,
    ensure_private_dir,
    fsync_dir,
    remove_stale_temps,
    write_new_private_file,
)
from core.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.directories import BadDirectory, normalize_directory
from core.display import escape_controls
from core.errors import (
    DuplicateName,
    InvalidDirectory,
    InvalidPermissions,
    LegacyStoreFound,
    NotLegacyStore,
    StoreCorrupt,
    StoreLocked,
    StoreReadOnly,
    StoreUnreadable,
    StoreVersionUnsupported,
    StoreWriteFailed,
    TokenNotFound,
)
from core.expiry import DEFAULT_EXPIRY, lifetime_of, parse_expiry
from core.file_safety import check_file, check_location
from core.locking import FileLock, LockTimeout
from core.models import READABLE_VERSIONS, STORE_VERSION, StoreDocument, TokenRecord
from core.names import require_plain_text, validate_name, validate_note
from core.permissions import ALL_PERMISSIONS, Permission, canonical, parse_permissions
from core.store_format import Loaded, changed_span, split
from core.store_format import serialize as serialize  # the file for records (re-exported)
from core.token_format import Secret, digest, generate, new_id, usable_legacy_secret

T = TypeVar("T")

MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_LOCK_TIMEOUT = 10.0
_GENERATED_NAME = re.compile(r"token-([0-9]{1,9})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Identity of one version of the file: any write changes at least one field."""

    inode: int
    device: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Fingerprint:
        return cls(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


UNREADABLE = Fingerprint(-1, -1, -1, -1, -1)
"""`stat` failed for another reason than a missing file: a read will say why."""


@dataclass(frozen=True)
class Snapshot:
    """The store as read at one moment. `exists` is False for a missing file."""

    path: Path | str
    """The file (or, for a database, its URL with the password masked)."""
    records: tuple[TokenRecord, ...]
    exists: bool
    fingerprint: Hashable | None
    """The version read: the file's `Fingerprint`, a database's change number; it
    equals the store's `version()` while nothing changes."""
    warnings: tuple[str, ...] = ()
    read_only: bool = False
    """The owner has no write permission (chmod 400): changes are refused."""
    loaded: Loaded | None = field(default=None, repr=False, compare=False)
    """The records with their blocks of the file, for reading again or writing
    only what changed (store_format.py)."""
    delta: tuple[Sequence[TokenRecord], Sequence[TokenRecord]] | None = field(
        default=None, repr=False, compare=False
    )
    """(records gone, records added) since the version `based_on`, when known."""
    based_on: Hashable | None = field(default=None, repr=False, compare=False)
    read_at_ns: int = field(default=0, repr=False, compare=False)

    @functools.cached_property
    def _by_id(self) -> dict[str, TokenRecord]:
        return {r.id: r for r in self.records}

    def by_id(self, token_id: str) -> TokenRecord | None:
        return self._by_id.get(token_id)

    def find(self, ref: str) -> TokenRecord | None:
        """By id, then exact name, then case-insensitive name."""
        ref = ref.strip()
        found = self._by_id.get(ref)
        if found is not None:
            return found
        folded = ref.casefold()
        loose = None
        for record in self.records:
            if record.name == ref:
                return record
            if record.name.casefold() == folded:
                loose = record
        return loose

    def require(self, ref: str) -> TokenRecord:
        found = self.find(ref)
        if found is None:
            raise TokenNotFound(ref)
        return found


@dataclass(frozen=True)
class Issued:
    """A token just created or rotated: its record and its secret (shown once)."""

    record: TokenRecord
    secret: Secret


@dataclass(frozen=True)
class Edited:
    """A token before and after `edit`, and which fields changed (none: nothing written)."""

    before: TokenRecord
    after: TokenRecord
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Copied:
    """What `Store.copy_in` did with each record it was given."""

    copied: tuple[TokenRecord, ...]
    present: tuple[TokenRecord, ...]
    """Already in the store with the same id and secret: skipped."""
    conflicts: tuple[tuple[TokenRecord, str], ...]
    """Not copied, with why."""


@dataclass(frozen=True)
class Migration:
    records: tuple[TokenRecord, ...]
    backup: Path
    unusable: tuple[str, ...] = ()
    """Names of migrated tokens whose old secret cannot be sent as a bearer token
    (not RFC 6750 token68, over 512 characters, or a malformed `ocat_...`):
    they are kept, but must be rotated to be used again."""


def read_file(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The file's bytes and stat, or None if it does not exist (nor its folder)."""
    # O_NONBLOCK: opening a FIFO put where the store should be must not hang
    # (the fstat below then refuses it); it changes nothing for regular files.
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise StoreUnreadable(path, "permission denied", hint=_permission_hint(path)) from None
    except NotADirectoryError:
        raise StoreUnreadable(path, "a parent of this path is not a folder") from None
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise StoreUnreadable(path, f"is {kind}", hint="point --store at a JSON file")
        check_file(path, st)
        check_location(path)
        if st.st_size > MAX_FILE_BYTES:
            raise StoreCorrupt(path, f"is {st.st_size} bytes, far larger than any token store")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), st
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def _permission_hint(path: Path) -> str:
    """Whether it is the file or a folder on the way that keeps the store out of reach."""
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not os.access(folder, os.X_OK):
            return f"the folder {folder} cannot be entered: check its owner and mode"
    return "check the file's owner and mode (chmod 600)"


def _mode_warnings(path: Path, st: os.stat_result) -> tuple[str, ...]:
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return (
            f"{path} is accessible by group or others (mode {mode:04o}); run: chmod 600 '{path}'",
        )
    return ()


def file_warnings(path: Path) -> tuple[str, ...]:
    """The warnings `read_snapshot` would give, from a stat alone (no read)."""
    try:
        st = os.stat(path)
    except OSError:
        return ()  # missing or unreadable: reading it reports that precisely
    if not stat.S_ISREG(st.st_mode):
        return ()  # a folder or a device: reading it says so (its mode is not the point)
    return _mode_warnings(path, st)


def parse_document(path: Path, data: bytes) -> tuple[TokenRecord, ...]:
    """Validate the file's bytes; raise a StoreError saying exactly what is wrong.

    Strict: only what this program writes is accepted (a number is not a time,
    "yes" is not a boolean), so a hand edit cannot change a meaning silently.
    """
    try:
        return StoreDocument.model_validate_json(data, strict=True).tokens
    except ValidationError as exc:
        invalid = exc  # diagnose below, slowly and precisely
    fix = "restore it from a backup, or move it aside to start an empty store"
    if not data.strip():
        raise StoreCorrupt(path, "the file is empty", hint=fix)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreCorrupt(
            path, f"not UTF-8 text (bad byte at offset {exc.start})", hint=fix
        ) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        if at_end or _unclosed(text):
            raise StoreCorrupt(
                path, f"the JSON ends early, at line {exc.lineno}: the file is truncated", hint=fix
            ) from None
        raise StoreCorrupt(
            path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", hint=fix
        ) from None
    if isinstance(obj, list):
        if legacy.looks_legacy(obj):
            raise LegacyStoreFound(
                path,
                f"is in the old PR #8217 format ({len(obj)} tokens, secrets in plain text)",
                hint="run `opencode-auth-tui migrate` to convert it; a 0600 backup is kept",
            )
        raise StoreCorrupt(path, "is a JSON array but not a PR #8217 token list", hint=fix)
    if not isinstance(obj, dict):
        raise StoreCorrupt(path, "expected a JSON object with a version field", hint=fix)
    if "version" not in obj:
        raise StoreCorrupt(path, "has no version field", hint=fix)
    version = obj["version"]
    if type(version) is not int or version not in READABLE_VERSIONS:  # not true, not 2.0
        newer = (
            isinstance(version, int) and not isinstance(version, bool) and version > STORE_VERSION
        )
        raise StoreVersionUnsupported(
            path,
            f"store version {json.dumps(version)[:20]} is not supported "
            f"(this build reads versions 1 and {STORE_VERSION})",
            hint="upgrade opencode-auth-tui" if newer else fix,
        )
    err = invalid.errors(include_input=False, include_url=False)[0]
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
    ).lstrip(".")
    raise StoreCorrupt(path, f"{where or 'document'}: {err['msg']}", hint=fix)


def _unclosed(text: str) -> bool:
    """More brackets or braces opened than closed (outside strings): cut short."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0


def read_snapshot(path: Path) -> Snapshot:
    """The file read and validated whole."""
    return _snapshot(path, None, time.time_ns())


def _snapshot(path: Path, previous: Snapshot | None, started: int) -> Snapshot:
    found = read_file(path)
    if found is None:
        return Snapshot(path=path, records=(), exists=False, fingerprint=None, read_at_ns=started)
    data, st = found
    step = None
    if previous is not None and previous.loaded is not None:
        step = previous.loaded.after(data)
    if step is not None:
        loaded, removed, added = step
        delta: tuple[Sequence[TokenRecord], Sequence[TokenRecord]] | None = (removed, added)
        records = tuple(loaded.records)
    else:
        records = parse_document(path, data)
        blocks = split(data)
        if blocks is not None and len(blocks) != len(records):
            blocks = None
        loaded = Loaded(list(records), blocks, data=data if blocks is not None else None)
        delta = None
    return Snapshot(
        path=path,
        records=records,
        exists=True,
        fingerprint=Fingerprint.of(st),
        warnings=_mode_warnings(path, st),
        read_only=not st.st_mode & stat.S_IWUSR,
        loaded=loaded,
        delta=delta,
        based_on=None if previous is None else previous.fingerprint,
        read_at_ns=started,
    )


_SECOND_NS = 1_000_000_000
_COARSE_TICK_NS = 2 * _SECOND_NS


class StoreReader:
    """One store file, read again only when it changes, and then only as much as
    it changed (store_format.py).

    A version is identified by inode, device, size, mtime_ns and ctime_ns
    (`Fingerprint`). Because a rewrite can land within one timestamp tick of a
    read and keep all of them (an in-place edit; this program always writes a
    new file, whose inode differs), a version read less than `racy_window`
    after its mtime is read once more when that window has passed - git's
    "racy clean" rule. Where mtime and ctime are whole seconds the file system
    most likely keeps only seconds, and the window is 2 s.
    """

    def __init__(self, path: Path, *, racy_window: float = 0.05) -> None:
        self.path = path
        self._fspath = os.fspath(path)
        self._racy_ns = int(racy_window * 1e9)
        self._current: Snapshot | None = None
        self._current_key: tuple[int, int, int, int, int] | None = None
        self._recheck_at: int | None = None

    def stat_key(self) -> tuple[int, int, int, int, int] | None:
        """The file's identity as a plain tuple (this runs per decision), None if
        missing; an unreadable path gives a key no version has."""
        try:
            st = os.stat(self._fspath)
        except FileNotFoundError:
            return None
        except OSError:
            return (-1, -1, -1, -1, -1)
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def is_current(self, key: tuple[int, int, int, int, int] | None) -> bool:
        """Whether the version held is the file's, given its `stat_key()`."""
        if self._current is None or self._current_key != key:
            return False
        return self._recheck_at is None or time.time_ns() < self._recheck_at

    def snapshot(self) -> Snapshot:
        """The file's current version (read only if it changed)."""
        if self.is_current(self.stat_key()):
            assert self._current is not None
            return self._current
        return self.reload()

    def reload(self) -> Snapshot:
        started = time.time_ns()  # before reading: the bytes are at least this old
        try:
            found = _snapshot(self.path, self._current, started)
        except BaseException:
            self._current = None  # an unreadable or corrupt file: never fall back
            raise
        self.adopt(found)
        return found

    def adopt(self, found: Snapshot) -> None:
        """Hold `found` as the current version (one read, or one of our writes)."""
        self._current = found
        fp = found.fingerprint if isinstance(found.fingerprint, Fingerprint) else None
        self._current_key = (
            None if fp is None else (fp.inode, fp.device, fp.size, fp.mtime_ns, fp.ctime_ns)
        )
        self._recheck_at = None
        if fp is not None:
            window = self._racy_ns
            if fp.mtime_ns % _SECOND_NS == 0 and fp.ctime_ns % _SECOND_NS == 0:
                window = max(window, _COARSE_TICK_NS)
            if abs(found.read_at_ns - fp.mtime_ns) < window:
                self._recheck_at = fp.mtime_ns + window

    @property
    def current(self) -> Snapshot | None:
        return self._current


class RecordSource(Protocol):
    """What an authorizer reads records through (`StoreReader` for the file):
    a cheap check per decision whether the version held is still the store's,
    and a read when it is not."""

    def stat_key(self) -> Hashable:
        """The store's current version marker, as cheaply as possible (the file:
        one stat; a database: the last change it announced)."""

    def is_current(self, key: Any) -> bool:  # Any: each engine has its own marker
        """Whether the version held is the one `key` (from `stat_key`) names."""

    def reload(self) -> Snapshot:
        """The store's current version, read (raises a StoreError; never falls
        back to an older version)."""

    def adopt(self, found: Snapshot) -> None:
        """Hold `found` (a version this process wrote) as current, unread."""

    @property
    def current(self) -> Snapshot | None: ...


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
        self.last_written: Snapshot | None = None
        """What the last change wrote (based on which version, and what changed)."""

    def now(self) -> datetime:
        return to_utc(self.clock()).replace(microsecond=0)

    # --- what an engine provides ----------------------------------------------------

    @abstractmethod
    def load(self) -> Snapshot:
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

    def _snapshot_of(self, records: list[TokenRecord]) -> Snapshot:
        """The records being changed, to look a reference up in."""
        return Snapshot(self.location, tuple(records), True, None)


class TokenStore(Store):
    """The JSON file engine: one file, read whole, replaced atomically under a lock
    (see the module's docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = system_clock,
        token_bytes: TokenBytes = system_token_bytes,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        super().__init__(clock=clock, token_bytes=token_bytes)
        # Resolve symlinks once so the atomic rename replaces the real file, not
        # the link; the path as given is still checked for links in shared folders.
        self.given_path = Path(os.path.abspath(path))
        self.path = Path(os.path.realpath(path))
        self.location = str(self.path)
        self.lock_timeout = lock_timeout
        self.reader = StoreReader(self.path)
        """The file as last read or written by this object: a long-lived store (the
        TUI, the gateway's usage writer) reads again only what changed."""

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def load(self) -> Snapshot:
        # The folders are checked on every load (a few lstat calls): a folder made
        # writable by others does not change the file's own fingerprint.
        check_location(self.given_path)
        if self.given_path != self.path:
            check_location(self.path)
        return self.reader.snapshot()

    def version(self) -> Fingerprint | None:
        """The file's fingerprint (one stat); None when there is no file,
        `UNREADABLE` when stat fails otherwise (a read will say why)."""
        try:
            return Fingerprint.of(os.stat(self.path))
        except FileNotFoundError:
            return None
        except OSError:
            return UNREADABLE

    def new_reader(self) -> StoreReader:
        return StoreReader(self.path)

    def migrate(self) -> Migration:
        """Convert a PR #8217 file: hash every secret, keep a 0600 backup of the original."""
        with self._locked():
            found = read_file(self.path)
            if found is None:
                raise NotLegacyStore(self.path, "does not exist; there is nothing to migrate")
            data, _ = found
            try:
                parse_document(self.path, data)
            except LegacyStoreFound:
                pass
            else:
                raise NotLegacyStore(
                    self.path,
                    f"is already in the current format (version {STORE_VERSION}); "
                    "nothing to migrate",
                )
            try:
                entries = legacy.parse_legacy(json.loads(data))
            except legacy.LegacyFormatError as exc:
                raise StoreCorrupt(self.path, f"old-format {exc}") from None
            converted = legacy.convert(
                entries,
                new_id=self._new_id,
                generated_name=generated_name,
            )
            records = StoreDocument.model_validate(
                {"version": STORE_VERSION, "tokens": converted}
            ).tokens
            unusable = tuple(
                record.name
                for record, entry in zip(records, entries, strict=True)
                if not usable_legacy_secret(entry.token)
            )
            backup = self._write_backup(data)
            self._write(Snapshot(self.path, (), True, None), list(records))
            return Migration(records=records, backup=backup, unusable=unusable)

    # --- internals ----------------------------------------------------------------

    def _locked(self) -> FileLock:
        check_location(self.given_path)
        if self.given_path != self.path:
            check_location(self.path)
        try:
            ensure_private_dir(self.path.parent)
        except OSError as exc:
            raise StoreWriteFailed(
                self.path.parent, f"cannot create the folder: {exc.strerror or exc}"
            ) from None
        return _StoreLock(self.path, self.lock_path, self.lock_timeout)

    def _mutate(self, change: Callable[[list[TokenRecord]], T]) -> T:
        """Read (again, under the lock), change, write - only if something changed.

        The version read under the lock is the one changed: the reader re-reads
        whatever changed since it last looked (another process's write is never
        lost), and skips only a version it holds and that is unchanged on disk.
        """
        with self._locked():
            current = self.reader.snapshot()
            before = current.records
            records = list(before)
            result = change(records)
            unchanged = len(records) == len(before) and all(
                new is old for new, old in zip(records, before, strict=True)
            )
            if not unchanged:  # a no-op never creates or rewrites the file
                if current.read_only:
                    raise StoreReadOnly(
                        self.path,
                        "is read-only (no write permission for its owner), so it was not changed",
                        hint=f"run: chmod 600 '{self.path}' to allow changes",
                    )
                self._write(current, records)
            return result

    def _write(self, current: Snapshot, records: list[TokenRecord]) -> None:
        loaded = current.loaded or Loaded(list(current.records), None)
        data, blocks = loaded.bytes_for(records)
        started = time.time_ns()
        try:
            atomic_write(self.path, data)
            st = os.stat(self.path)  # still under the lock: our file
        except OSError as exc:
            raise StoreWriteFailed(
                self.path,
                f"could not write: {exc.strerror or exc}; the previous file is unchanged",
            ) from None
        start, end_old, end_new = changed_span(current.records, records)
        written = Snapshot(
            path=self.path,
            records=tuple(records),
            exists=True,
            fingerprint=Fingerprint.of(st),
            loaded=Loaded(records, blocks, data=data if blocks is not None else None),
            delta=(current.records[start:end_old], records[start:end_new]),
            based_on=current.fingerprint,
            read_at_ns=started,
        )
        self.reader.adopt(written)
        self.last_written = written

    def _write_backup(self, data: bytes) -> Path:
        stamp = self.now().strftime("%Y%m%dT%H%M%SZ")
        for n in range(100):
            suffix = "" if n == 0 else f".{n}"
            backup = self.path.with_name(f"{self.path.name}.pr8217-backup-{stamp}{suffix}")
            try:
                write_new_private_file(backup, data)
            except FileExistsError:
                continue
            except OSError as exc:
                raise StoreWriteFailed(
                    backup, f"could not write the backup: {exc.strerror or exc}; nothing changed"
                ) from None
            with contextlib.suppress(OSError):  # best effort, as in atomic_write
                fsync_dir(backup.parent)
            return backup
        raise StoreWriteFailed(self.path, "too many backups with the same timestamp")


class _StoreLock(FileLock):
    """The store's lock, translating OS failures into StoreErrors and sweeping
    temporary files left by writers that were killed mid-write."""

    def __init__(self, store_path: Path, lock_path: Path, timeout: float) -> None:
        super().__init__(lock_path, timeout)
        self.store_path = store_path

    def __enter__(self) -> _StoreLock:
        try:
            super().__enter__()
        except LockTimeout:
            raise StoreLocked(
                self.store_path,
                f"another process has held the lock ({self.path.name}) for over {self.timeout:g} s",
                hint="wait for the other opencode-auth-tui to finish, then retry",
            ) from None
        except OSError as exc:
            raise StoreWriteFailed(
                self.store_path,
                f"cannot create the lock file {self.path.name}: {exc.strerror or exc}",
            ) from None
        remove_stale_temps(self.store_path)
        return self


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
