"""The default engine (`TokenStore`): one JSON file, read whole, replaced
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
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.model.errors import (
    LegacyStoreFound,
    NotLegacyStore,
    StoreCorrupt,
    StoreLocked,
    StoreReadOnly,
    StoreWriteFailed,
)
from core.model.records import MAX_CLIENT_LEN, STORE_VERSION, client_text
from core.model.token_format import usable_legacy_secret
from core.store.base import Store
from core.store.changes import Changing, T, Used, generated_name, usage_batch
from core.store.file.atomic import (
    atomic_write,
    ensure_private_dir,
    fsync_dir,
    remove_stale_temps,
    write_new_private_file,
)
from core.store.file.format import serialize as serialize  # the file for records (re-exported
from core.store.file.incremental import Loaded, changed_span, same_items
from core.store.file.locking import FileLock, LockTimeout
from core.store.file.reading import (
    UNREADABLE,
    FileSnapshot,
    Fingerprint,
    StoreReader,
    _Latest,
    file_warnings,
    parse_document,
    read_file,
)
from core.store.file.safety import check_location
from core.store.file.writable import write_problem
from core.store.snapshot import Migration

if TYPE_CHECKING:  # the gateway's reader: imported where it is made, not by the CLI
    from core.store.file.index_reader import EntryReader
    from core.store.file.usage_write import UsageWrites

DEFAULT_LOCK_TIMEOUT = 10.0


"""`stat` failed for another reason than a missing file: a read will say why."""


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
        self._latest = _Latest()
        self._reader = StoreReader(self.path, latest=self._latest)
        """The file as last read or written by this object: a long-lived store (the
        TUI, the gateway's usage writer) reads again only what changed."""
        self._usage: UsageWrites | None = None  # made on the first usage write (a server's)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def load(self) -> FileSnapshot:
        # The folders are checked on every load (a few lstat calls): a folder made
        # writable by others does not change the file's own fingerprint.
        check_location(self.given_path)
        if self.given_path != self.path:
            check_location(self.path)
        return self._reader.snapshot()

    def version(self) -> Fingerprint | None:
        """The file's fingerprint (one stat); None when there is no file,
        `UNREADABLE` when stat fails otherwise (a read will say why)."""
        try:
            return Fingerprint.of(os.stat(self.path))
        except FileNotFoundError:
            return None
        except OSError:
            return UNREADABLE

    def new_reader(self) -> EntryReader:
        """A reader for an authorizer: token entries, not records (index_reader.py);
        it takes this store's own writes instead of reading them back (`_Latest`)."""
        from core.store.file.index_reader import EntryReader

        return EntryReader(self.path, latest=self._latest)

    def startup_check(self) -> tuple[bool, int, tuple[str, ...]]:
        """As every engine does, without a record per token (the file validated as
        strictly, by fast_parse.py); the first authorizer of this file in this
        process takes this read instead of reading the file again (`hand_over`)."""
        from core.store.file.index_reader import hand_over

        check_location(self.given_path)
        if self.given_path != self.path:
            check_location(self.path)
        found = hand_over(self.path)
        return found.version is not None, len(found.entries or ()), self.mode_warnings()

    def kept_files(self) -> tuple[Path, ...]:
        return (self.given_path, self.path)

    def mode_warnings(self) -> tuple[str, ...]:
        return file_warnings(self.path)

    def write_problem(self) -> str | None:
        return write_problem(self.path, self.lock_path)

    def record_usage(self, used: Mapping[str, Used]) -> int:
        """As every engine does - except that a file deleted meanwhile is not
        created again just to hold timestamps of tokens that no longer exist.
        Without a record per token where the file allows (usage_write.py): the
        same bytes, the same result and errors, and nothing kept."""
        if not self.path.exists():
            return 0
        batch = usage_batch(used)
        with self._locked():
            done = self._usage_writes().record_usage(batch, self.now, self._read_only_error)
            if done is not None:
                self._let_go()
                return done
        return super().record_usage(used)

    def record_session_seen(self, seen: Mapping[str, tuple[datetime, str | None]]) -> int:
        """As every engine does; a file deleted meanwhile is not created again.
        Without a record per token where the file allows, as `record_usage`."""
        if not self.path.exists():
            return 0
        batch = {
            session_id: (to_utc(when).replace(microsecond=0), client_text(client, MAX_CLIENT_LEN))
            for session_id, (when, client) in seen.items()
        }
        with self._locked():
            done = self._usage_writes().record_session_seen(batch, self.now, self._read_only_error)
            if done is not None:
                self._let_go()
                return done
        return super().record_session_seen(seen)

    def _usage_writes(self) -> UsageWrites:
        """The usage-write path, imported only by the processes that record usage
        (the gateway, forward-auth): a CLI command never pays for it."""
        if self._usage is None:
            from core.store.file.usage_write import UsageWrites

            self._usage = UsageWrites(self.path)
        return self._usage

    def _read_only_error(self) -> StoreReadOnly:
        return StoreReadOnly(
            self.path,
            "is read-only (no write permission for its owner), so it was not changed",
            hint=f"run: chmod 600 '{self.path}' to allow changes",
        )

    def _let_go(self) -> None:
        """After a usage write without records: the records of an older version,
        if this store holds any, are of no use (the file changed) - drop them."""
        self.last_written = None
        if self._reader.current is not None:
            self._reader = StoreReader(self.path, latest=self._latest)
            self._latest.snapshot = None

    def migrate(self) -> Migration:
        """Convert a PR #8217 file: hash every secret, keep a 0600 backup of the original."""
        # The old format and the models (pydantic) are imported only here and when
        # a file needs validating: not by every command (records.py).
        from core.model.schema import parse_document as validate
        from core.store.file import legacy

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
            records = validate({"version": STORE_VERSION, "tokens": converted}).tokens
            unusable = tuple(
                record.name
                for record, entry in zip(records, entries, strict=True)
                if not usable_legacy_secret(entry.token)
            )
            backup = self._write_backup(data)
            self._write(
                FileSnapshot(str(self.path), (), True, None), Changing(list(records), [], [])
            )
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

    def _mutate(self, change: Callable[[Changing], T]) -> T:
        """Read (again, under the lock), change, write - only if something changed.

        The version read under the lock is the one changed: the reader re-reads
        whatever changed since it last looked (another process's write is never
        lost), and skips only a version it holds and that is unchanged on disk.
        """
        with self._locked():
            current = self._reader.snapshot()
            before = current.records
            state = Changing(list(before), list(current.sessions), list(current.pairings))
            result = change(state)
            unchanged = (
                same_items(state.tokens, before)
                and same_items(state.sessions, current.sessions)
                and same_items(state.pairings, current.pairings)
            )
            if not unchanged:  # a no-op never creates or rewrites the file
                if current.read_only:
                    raise StoreReadOnly(
                        self.path,
                        "is read-only (no write permission for its owner), so it was not changed",
                        hint=f"run: chmod 600 '{self.path}' to allow changes",
                    )
                self._settle(state)
                self._write(current, state)
            return result

    def _write(self, current: FileSnapshot, state: Changing) -> None:
        records = state.tokens
        loaded = current.loaded or Loaded(
            list(current.records), None, sessions=current.sessions, pairings=current.pairings
        )
        data, written_loaded = loaded.bytes_for(records, state.sessions, state.pairings)
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
        written = FileSnapshot(
            location=str(self.path),
            records=tuple(records),
            exists=True,
            version=Fingerprint.of(st),
            sessions=written_loaded.sessions,
            pairings=written_loaded.pairings,
            loaded=written_loaded,
            delta=(current.records[start:end_old], records[start:end_new]),
            based_on=current.version,
            read_at_ns=started,
        )
        self._reader.adopt(written)
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
            # The lock file is made once and kept: "create" only when it is missing.
            verb = "open" if os.path.lexists(self.path) else "create"
            reason = exc.strerror or str(exc)
            raise StoreWriteFailed(
                self.store_path,
                f"cannot {verb} the lock file {self.path.name}: {reason[:1].lower()}{reason[1:]}",
            ) from None
        remove_stale_temps(self.store_path)
        return self
