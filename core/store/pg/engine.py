"""The PostgreSQL engine (`PostgresStore`): the same operations, records, errors
and exit codes as the JSON file, for a store shared by many hosts.

- **Writers are serialized by one row lock**: every change begins with
  `SELECT ... FROM state FOR UPDATE`, so a change function sees every record as
  committed, exactly as the file engine's lock does, and change numbers follow
  commit order. Readers never wait for it (MVCC).
- **Records are followed incrementally**: each row carries the change number of
  its last change and each deletion leaves a record in `deleted`, so reading
  again after change N fetches only what changed since N (a full read only the
  first time, after a week offline, or for a database re-created under the URL).
- **Every change bumps `state.change` and NOTIFYs it** (schema.CHANNEL), in the
  same transaction: a listener learns of it at commit (core.store.pg.watch).
- **Validation is the file's**: rows are validated by the pydantic TokenRecord
  model and the file's rules across records (`check_records`); names are unique
  by the casefolded `name_key` index, the file's own rule.

Errors are typed: a database that cannot be reached is `StoreUnavailable` with
libpq's reason in one line (never a password: a URL with one is refused before
connecting), a missing or old schema `SchemaMissing`/`SchemaOutdated` saying what
to run, a lock held too long `StoreLocked`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from pydantic import TypeAdapter, ValidationError

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.model.errors import (
    DuplicateName,
    StoreCorrupt,
    StoreError,
    StoreLocationInvalid,
    StoreLocked,
    StoreUnavailable,
    StoreUnreadable,
    StoreWriteFailed,
)
from core.model.records import TokenRecord, check_records
from core.model.text import escape_controls
from core.store import DEFAULT_LOCK_TIMEOUT, SchemaChange, Snapshot, Store
from core.store.file.format import changed_span
from core.store.pg import schema
from core.store.pg.schema import SCHEMA
from core.store.pg.url import check_url, mask_url

if TYPE_CHECKING:
    from core.store.pg.watch import ChangeWatcher, PgReader

T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]

DEFAULT_CONNECT_TIMEOUT = 5
APPLICATION_NAME = "opencode-auth-tui"
_COLUMNS = (
    "id, name, permissions, created_at, expires_at, last_used_at, hint, digest, legacy, "
    "note, directories"
)
_FIELDS = tuple(part.strip() for part in _COLUMNS.split(","))
_RECORDS = TypeAdapter(list[TokenRecord])


@dataclass(frozen=True, slots=True)
class Change:
    """A version of a database store: which database (`instance`, random at `db
    init`) and its change number. `Snapshot.version` and `version()`."""

    instance: str
    number: int

    def covers(self, other: object) -> bool:
        """This version is `other` or newer (change numbers only grow)."""
        return (
            isinstance(other, Change)
            and other.instance == self.instance
            and self.number >= other.number
        )


# --- connecting ---------------------------------------------------------------------


def connection_parameters(url: str) -> dict[str, Any]:
    """The URL as libpq reads it; a malformed one is StoreLocationInvalid (exit 2)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreLocationInvalid(
            f"the store URL {mask_url(url)} is malformed: {one_line(exc)}"
        ) from None
    for port in str(params.get("port", "")).split(","):
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise StoreLocationInvalid(
                f"the store URL {mask_url(url)} is malformed: "
                f"the port {escape_controls(port)!r} is not a number from 1 to 65535"
            )
    return params


def one_line(exc: BaseException) -> str:
    """libpq's message on one line (it spreads one over several, with tabs)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines) or type(exc).__name__
    return escape_controls(text if len(text) <= 400 else text[:399] + "…")


_PSYCOPG_PREFIXES = ("connection failed: ", "connection is bad: ")


def unavailable(location: str, exc: BaseException) -> StoreUnavailable:
    reason = one_line(exc)
    for prefix in _PSYCOPG_PREFIXES:
        reason = reason.removeprefix(prefix)
    lowered = reason.lower()
    if "password" in lowered or "authentication" in lowered:
        hint = "check PGPASSWORD, ~/.pgpass or PGPASSFILE, the service file, and the user name"
    elif "does not exist" in lowered and "database" in lowered:
        hint = "create the database with createdb, or fix its name in the URL"
    elif "ssl" in lowered or "certificate" in lowered:
        hint = "check sslmode, sslrootcert and the server's certificate"
    else:
        hint = "is the database server running and reachable? check the host and port"
    return StoreUnavailable(location, f"cannot connect to the database: {reason}", hint=hint)


def connect(url: str, location: str, *, autocommit: bool = False) -> Conn:
    """A connection in UTC (timestamps come back as UTC, as the file holds them),
    with a connect timeout unless the URL or the environment sets one."""
    params = connection_parameters(url)
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params and not os.environ.get("PGCONNECT_TIMEOUT"):
        extra["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    if "application_name" not in params and not os.environ.get("PGAPPNAME"):
        extra["application_name"] = APPLICATION_NAME
    try:
        conn = psycopg.connect(url, autocommit=autocommit, **extra)
    except psycopg.Error as exc:
        raise unavailable(location, exc) from None
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise unavailable(location, exc) from None
    return conn


class Connection:
    """One connection, opened when first needed (and the schema checked then);
    a broken one is dropped, and the next use connects again."""

    def __init__(self, url: str, location: str, *, check_schema: bool = True) -> None:
        self.url = url
        self.location = location
        self.check_schema = check_schema
        self._conn: Conn | None = None

    def get(self) -> Conn:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self.drop()
        conn = connect(self.url, self.location)
        if self.check_schema:
            try:
                schema.require_current(conn, self.location)
                conn.commit()
            except StoreError:
                conn.close()
                raise
            except psycopg.Error as exc:
                conn.close()
                raise translate(exc, self.location, reading=True) from None
        self._conn = conn
        return conn

    def is_open(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.closed and not conn.broken

    def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def translate(exc: psycopg.Error, location: str, *, reading: bool) -> StoreError:
    """A psycopg error as the StoreError a user can act on (one line, no password)."""
    if isinstance(exc, pg_errors.LockNotAvailable):
        return StoreLocked(
            location,
            "another writer has held the token store's lock for too long",
            hint="wait for the other opencode-auth-tui to finish, then retry",
        )
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        verb = "read" if reading else "change"
        return StoreUnreadable(
            location,
            f"the database role may not {verb} the token store: {one_line(exc)}",
            hint=f"GRANT the role access to schema {SCHEMA} (see the README)",
        )
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.InvalidSchemaName):
        return StoreCorrupt(
            location,
            f"the token store's tables are incomplete: {one_line(exc)}",
            hint="run: opencode-auth-tui --store URL db upgrade",
        )
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return unavailable(location, exc)
    if reading:
        return StoreUnreadable(location, f"could not read the token store: {one_line(exc)}")
    return StoreWriteFailed(
        location, f"could not change the token store: {one_line(exc)}; nothing was changed"
    )


# --- rows and records ---------------------------------------------------------------


def records_of(rows: Sequence[Sequence[Any]], location: str) -> list[TokenRecord]:
    """Rows validated as the file's records are (TokenRecord, then the rules
    across records; uniqueness is the database's constraints)."""
    data = [dict(zip(_FIELDS, row, strict=True)) for row in rows]
    try:
        records = _RECORDS.validate_python(data)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        loc = err["loc"]
        where = data[loc[0]]["id"] if loc and isinstance(loc[0], int) else "?"
        field = ".".join(str(part) for part in loc[1:]) or "row"
        raise StoreCorrupt(
            location, f"token {escape_controls(str(where))}: {field}: {err['msg']}"
        ) from None
    try:
        return list(check_records(records, 2, fresh=records, unique=False))
    except ValueError as exc:
        problem = str(exc)
    for record in records:  # which one (only on this slow path)
        try:
            check_records([record], 2, fresh=[record], unique=False)
        except ValueError as exc:
            problem = f"token {record.id}: {exc}"
            break
    raise StoreCorrupt(location, problem, hint="fix the row, or restore the database")


def row_of(record: TokenRecord, change: int) -> tuple[Any, ...]:
    return (
        record.id,
        record.name,
        record.name.casefold(),
        [p.value for p in record.permissions],
        record.created_at,
        record.expires_at,
        record.last_used_at,
        record.hint,
        record.digest,
        record.legacy,
        record.note,
        list(record.directories),
        change,
    )


_UPSERT = f"""
INSERT INTO {SCHEMA}.tokens (id, name, name_key, permissions, created_at, expires_at,
    last_used_at, hint, digest, legacy, note, directories, changed)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, name_key = EXCLUDED.name_key, permissions = EXCLUDED.permissions,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
    last_used_at = EXCLUDED.last_used_at, hint = EXCLUDED.hint, digest = EXCLUDED.digest,
    legacy = EXCLUDED.legacy, note = EXCLUDED.note, directories = EXCLUDED.directories,
    changed = EXCLUDED.changed
"""


class Records:
    """The records of one database as last read, followed change by change."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.snapshot: Snapshot[Change] | None = None
        self._by_id: dict[str, TokenRecord] = {}

    @property
    def version(self) -> Change | None:
        held = self.snapshot
        return None if held is None else held.version

    def forget(self) -> None:
        self.snapshot = None
        self._by_id = {}

    def refresh(self, conn: Conn) -> Snapshot[Change]:
        """The records as of `conn`'s view (a REPEATABLE READ transaction, or one
        holding the write lock): only what changed since the version held."""
        started = time.time_ns()
        state = conn.execute(
            f"SELECT change, instance, forgotten_through FROM {SCHEMA}.state"
        ).fetchone()
        if state is None:
            raise StoreCorrupt(
                self.location,
                "the token store's state row is missing",
                hint="restore the database from a backup",
            )
        number, instance, forgotten = int(state[0]), str(state[1]), int(state[2])
        now = Change(instance, number)
        held = self.snapshot
        previous = self.version
        if held is not None and previous == now:
            return held
        incremental = (
            held is not None
            and previous is not None
            and previous.instance == instance
            and forgotten <= previous.number <= number
        )
        if incremental:
            assert previous is not None
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.tokens WHERE changed > %s ORDER BY seq",
                (previous.number,),
            ).fetchall()
            gone = conn.execute(
                f"SELECT id FROM {SCHEMA}.deleted WHERE changed > %s", (previous.number,)
            ).fetchall()
            removed: list[TokenRecord] = []
            added = records_of(rows, self.location)
            for (token_id,) in gone:
                old = self._by_id.pop(token_id, None)
                if old is not None:
                    removed.append(old)
            for record in added:
                old = self._by_id.get(record.id)
                if old is not None:
                    removed.append(old)
                self._by_id[record.id] = record
            delta: tuple[Sequence[TokenRecord], Sequence[TokenRecord]] | None = (removed, added)
        else:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM {SCHEMA}.tokens ORDER BY seq").fetchall()
            self._by_id = {record.id: record for record in records_of(rows, self.location)}
            delta = None
        snapshot = Snapshot(
            location=self.location,
            records=tuple(self._by_id.values()),
            exists=True,
            version=now,
            delta=delta,
            based_on=previous if delta is not None else None,
            read_at_ns=started,
        )
        self.snapshot = snapshot
        return snapshot

    def install(self, records: list[TokenRecord], snapshot: Snapshot[Change]) -> None:
        """Hold what this process just committed."""
        self._by_id = {record.id: record for record in records}
        self.snapshot = snapshot


def read_snapshot(conn: Conn, records: Records) -> Snapshot[Change]:
    """One consistent read (REPEATABLE READ, read only) of what changed."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return records.refresh(conn)


def read_current(connection: Connection, records: Records) -> Snapshot[Change]:
    """`read_snapshot` on the connection held; one found dead (the server restarted
    since it was last used) is replaced once - reading twice changes nothing."""
    for attempt in (1, 2):
        reused = connection.is_open()
        conn = connection.get()
        try:
            return read_snapshot(conn, records)
        except psycopg.Error as exc:
            dead = conn.closed or conn.broken
            if dead:
                connection.drop()
            if not (dead and reused and attempt == 1):
                raise translate(exc, connection.location, reading=True) from None
    raise AssertionError("unreachable")  # pragma: no cover


# --- the engine ---------------------------------------------------------------------


class PostgresStore(Store):
    """The token store in a PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = system_clock,
        token_bytes: TokenBytes = system_token_bytes,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        poll_interval: float = 0.5,
    ) -> None:
        super().__init__(clock=clock, token_bytes=token_bytes)
        self.url = check_url(url)
        self.location = mask_url(self.url)
        connection_parameters(self.url)  # a malformed URL is refused before connecting
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self._connection = Connection(self.url, self.location)
        self._records = Records(self.location)
        self._watcher: ChangeWatcher | None = None

    # --- what an engine provides --------------------------------------------------

    def load(self) -> Snapshot[Change]:
        snapshot = read_current(self._connection, self._records)
        if self._watcher is not None:
            self._watcher.observe(snapshot.version)
        return snapshot

    def version(self) -> Hashable:
        """The change number the store's listener knows (LISTEN/NOTIFY plus a short
        poll, started by the first call: the TUI's live refresh), no round trip;
        `Stale` while the database cannot be followed."""
        if self._watcher is None:
            from core.store.pg.watch import ChangeWatcher

            self._watcher = ChangeWatcher(
                self.url, self.location, poll_interval=max(self.poll_interval, 0.5), max_stale=3.0
            )
            self._watcher.start()
            held = self._records.version
            if held is not None:
                self._watcher.observe(held)
        key = self._watcher.key()
        held = self._records.version
        if held is not None and held.covers(key):
            return held  # read already (the notification may still be on its way)
        return key

    def new_reader(self) -> PgReader:
        from core.store.pg.watch import PgReader

        return PgReader(self.url, self.location)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._connection.drop()

    # --- schema -------------------------------------------------------------------

    def init_schema(self) -> SchemaChange:
        conn = connect(self.url, self.location)
        try:
            return schema.init(conn, secrets.token_hex(8))
        except psycopg.Error as exc:
            raise translate(exc, self.location, reading=False) from None
        finally:
            conn.close()

    def upgrade_schema(self) -> SchemaChange:
        conn = connect(self.url, self.location)
        try:
            return schema.upgrade(conn)
        except psycopg.Error as exc:
            raise translate(exc, self.location, reading=False) from None
        finally:
            conn.close()

    # --- changing -------------------------------------------------------------------

    def _locked(self, conn: Conn) -> tuple[int, str]:
        """Take the write lock (the state row), waiting at most `lock_timeout`."""
        conn.execute(f"SET LOCAL lock_timeout = {int(self.lock_timeout * 1000)}")
        row = conn.execute(f"SELECT change, instance FROM {SCHEMA}.state FOR UPDATE").fetchone()
        if row is None:
            raise StoreCorrupt(self.location, "the token store's state row is missing")
        return int(row[0]), str(row[1])

    def _commit_change(self, conn: Conn, number: int) -> None:
        conn.execute(f"UPDATE {SCHEMA}.state SET change = %s", (number,))
        conn.execute("SELECT pg_notify(%s, %s)", (schema.CHANNEL, str(number)))

    def _mutate(self, change: Callable[[list[TokenRecord]], T]) -> T:
        """Under the write lock: read what changed, apply `change` to every record,
        write only the rows it changed, bump the change number and NOTIFY it - or
        nothing at all, if it changed nothing or failed.

        A held connection found dead at the first statement (the server restarted
        since) is replaced once: nothing was sent that could have changed anything."""
        if self._connection.is_open():
            conn = self._connection.get()
            try:
                conn.execute("SELECT 1")
                conn.rollback()
            except psycopg.Error:
                self._after_error(conn)
        conn = self._connection.get()
        try:
            with conn.transaction():
                self._locked(conn)
                current = self._records.refresh(conn)
                before = current.records
                records = list(before)
                result = change(records)
                start, end_old, end_new = changed_span(before, records)
                if start == end_old and start == end_new:
                    return result
                window = {r.id: r for r in before[start:end_old]}
                kept = {r.id for r in records[start:end_new]}
                gone = [r for r in window.values() if r.id not in kept]
                written = [r for r in records[start:end_new] if window.get(r.id) is not r]
                assert isinstance(current.version, Change)
                number = current.version.number + 1
                self._write(conn, gone, written, number)
                self._commit_change(conn, number)
        except StoreError:
            raise
        except pg_errors.UniqueViolation as exc:
            self._records.forget()
            raise _unique_violation(exc, self.location) from None
        except psycopg.Error as exc:
            self._after_error(conn)
            raise translate(exc, self.location, reading=False) from None
        version = Change(current.version.instance, number)
        removed = [*gone, *(window[r.id] for r in written if r.id in window)]
        snapshot = Snapshot(
            location=self.location,
            records=tuple(records),
            exists=True,
            version=version,
            delta=(removed, written),
            based_on=current.version,
            read_at_ns=time.time_ns(),
        )
        self._records.install(records, snapshot)
        self.last_written = snapshot
        if self._watcher is not None:
            self._watcher.observe(version)
        return result

    def _write(
        self, conn: Conn, gone: Sequence[TokenRecord], written: Sequence[TokenRecord], number: int
    ) -> None:
        if gone:
            ids = [r.id for r in gone]
            conn.execute(f"DELETE FROM {SCHEMA}.tokens WHERE id = ANY(%s)", (ids,))
            conn.execute(
                f"""INSERT INTO {SCHEMA}.deleted (id, changed)
                    SELECT unnest(%s::text[]), %s
                    ON CONFLICT (id) DO UPDATE SET changed = EXCLUDED.changed,
                        deleted_at = now()""",
                (ids, number),
            )
            conn.execute(
                f"""WITH cleared AS (
                        DELETE FROM {SCHEMA}.deleted
                        WHERE deleted_at < now() - interval '{schema.TOMBSTONE_DAYS} days'
                        RETURNING changed)
                    UPDATE {SCHEMA}.state
                    SET forgotten_through = greatest(
                        forgotten_through, (SELECT max(changed) FROM cleared))
                    WHERE EXISTS (SELECT 1 FROM cleared)"""
            )
        if written:
            with conn.cursor() as cur:
                cur.executemany(_UPSERT, [row_of(r, number) for r in written])

    def record_usage(self, used: Mapping[str, datetime]) -> int:
        """One UPDATE for the whole batch (later times win), not a rewrite: the
        gateway's `last_used_at`, at most once a minute per token."""
        if not used:
            return 0
        ids = list(used)
        times = [to_utc(used[i]).replace(microsecond=0) for i in ids]
        conn = self._connection.get()
        try:
            with conn.transaction():
                number, _ = self._locked(conn)
                changed = conn.execute(
                    f"""UPDATE {SCHEMA}.tokens AS t
                        SET last_used_at = u.at, changed = %s
                        FROM unnest(%s::text[], %s::timestamptz[]) AS u(id, at)
                        WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)
                        RETURNING t.id""",
                    (number + 1, ids, times),
                ).fetchall()
                if changed:
                    self._commit_change(conn, number + 1)
        except StoreError:
            raise
        except psycopg.Error as exc:
            self._after_error(conn)
            raise translate(exc, self.location, reading=False) from None
        self.last_written = None  # the records are not all here: a reader reads the rows
        return len(changed)

    def _after_error(self, conn: Conn) -> None:
        if conn.closed or conn.broken:
            self._connection.drop()
            self._records.forget()  # a commit may or may not have happened: read again


def _unique_violation(exc: pg_errors.UniqueViolation, location: str) -> StoreError | DuplicateName:
    constraint = getattr(exc.diag, "constraint_name", None) or ""
    if constraint == "tokens_name_key":
        return DuplicateName("a token with that name (ignoring case) already exists")
    return StoreWriteFailed(
        location, f"could not change the token store: {one_line(exc)}; nothing was changed"
    )
