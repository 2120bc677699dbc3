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

import secrets
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import psycopg
from psycopg import errors as pg_errors

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.model.errors import (
    DuplicateName,
    StoreCorrupt,
    StoreError,
    StoreWriteFailed,
)
from core.model.records import (
    MAX_CLIENT_LEN,
    PairingRecord,
    SessionRecord,
    TokenRecord,
    client_text,
)
from core.store import DEFAULT_LOCK_TIMEOUT, SchemaChange, Snapshot, Store
from core.store.changes import Changing, Used, usage_batch
from core.store.file.incremental import changed_span, same_items
from core.store.pg import schema
from core.store.pg.connection import (
    Conn,
    Connection,
    connect,
    connection_parameters,
    one_line,
    translate,
)
from core.store.pg.records import (
    _UPSERT,
    PAIRING_INSERT,
    SESSION_UPSERT,
    Change,
    Records,
    pairing_row,
    read_current,
    row_of,
    session_row,
)
from core.store.pg.schema import SCHEMA
from core.store.pg.url import check_url, mask_url

if TYPE_CHECKING:
    from core.store.pg.watch import ChangeWatcher, PgReader

T = TypeVar("T")


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
        self._busy = threading.RLock()
        """Held for every use of the one connection: the gateway calls the store
        from a thread pool (sign-in pages, usage batches), and two threads on one
        psycopg connection nest their transactions - one's FOR UPDATE no longer
        keeps the other out, and a transaction can be left open holding the
        state row's lock, so that every other writer (`token delete`) times out."""

    # --- what an engine provides --------------------------------------------------

    def load(self) -> Snapshot[Change]:
        with self._busy:
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
        with self._busy:
            self._connection.drop()

    def write_problem(self) -> str | None:
        with self._busy:  # one thread at a time on the connection
            return self._write_problem()

    def _write_problem(self) -> str | None:
        """Why a change would fail: a server in recovery (a standby), a read-only
        session, or a role without UPDATE on the tables a gateway writes - one
        query, nothing locked or written; None when none holds, or when the
        question itself fails (the next write says why)."""
        try:
            conn = self._connection.get()
            row = conn.execute(
                f"""SELECT pg_is_in_recovery(),
                           current_setting('transaction_read_only') = 'on',
                           has_table_privilege('{SCHEMA}.state', 'UPDATE')
                           AND has_table_privilege('{SCHEMA}.tokens', 'UPDATE')
                           AND has_table_privilege('{SCHEMA}.sessions', 'UPDATE')"""
            ).fetchone()
            conn.rollback()
        except StoreError:
            return None
        except psycopg.Error:
            self._connection.drop()  # whatever state it is in: the next use connects anew
            return None
        if row is None:
            return None
        standby, read_only, may_update = row
        if standby:
            return "the database server is a standby (in recovery): it takes no writes"
        if read_only:
            return "the database session is read-only (default_transaction_read_only is on)"
        if not may_update:
            return f"the database role may not UPDATE the tables of schema {SCHEMA}"
        return None

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

    def _commit_change(self, conn: Conn, number: int, *, sessions: bool = False) -> None:
        """Bump the change number (and `sessions_changed` with it when sessions or
        pairings changed) and NOTIFY it, in the change's transaction."""
        if sessions:
            conn.execute(
                f"UPDATE {SCHEMA}.state SET change = %s, sessions_changed = %s", (number, number)
            )
        else:
            conn.execute(f"UPDATE {SCHEMA}.state SET change = %s", (number,))
        conn.execute("SELECT pg_notify(%s, %s)", (schema.CHANNEL, str(number)))

    def _mutate(self, change: Callable[[Changing], T]) -> T:
        with self._busy:  # one thread at a time on the connection
            return self._mutate_alone(change)

    def _mutate_alone(self, change: Callable[[Changing], T]) -> T:
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
                state = Changing(list(before), list(current.sessions), list(current.pairings))
                result = change(state)
                records = state.tokens
                start, end_old, end_new = changed_span(before, records)
                if (
                    start == end_old
                    and start == end_new
                    and same_items(state.sessions, current.sessions)
                    and same_items(state.pairings, current.pairings)
                ):
                    return result
                self._settle(state)
                window = {r.id: r for r in before[start:end_old]}
                kept = {r.id for r in records[start:end_new]}
                gone = [r for r in window.values() if r.id not in kept]
                written = [r for r in records[start:end_new] if window.get(r.id) is not r]
                assert isinstance(current.version, Change)
                number = current.version.number + 1
                self._write(conn, gone, written, number)
                extras = self._write_sessions(conn, current, state)
                self._commit_change(conn, number, sessions=extras)
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
            sessions=tuple(state.sessions),
            pairings=tuple(state.pairings),
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

    def _write_sessions(self, conn: Conn, current: Snapshot[Change], state: Changing) -> bool:
        """Write the sessions and pairings that changed (after the tokens: each
        refers to its token); whether any did."""
        before_sessions = {s.id: s for s in current.sessions}
        after_sessions = {s.id for s in state.sessions}
        gone = [i for i in before_sessions if i not in after_sessions]
        new: list[SessionRecord] = [s for s in state.sessions if before_sessions.get(s.id) is not s]
        before_pairings = {p.digest: p for p in current.pairings}
        after_pairings = {p.digest for p in state.pairings}
        used = [d for d in before_pairings if d not in after_pairings]
        made: list[PairingRecord] = [
            p for p in state.pairings if before_pairings.get(p.digest) is not p
        ]
        if gone:
            conn.execute(f"DELETE FROM {SCHEMA}.sessions WHERE id = ANY(%s)", (gone,))
        if used:
            conn.execute(f"DELETE FROM {SCHEMA}.pairings WHERE digest = ANY(%s)", (used,))
        with conn.cursor() as cur:
            if new:
                cur.executemany(SESSION_UPSERT, [session_row(s) for s in new])
            if made:
                cur.executemany(PAIRING_INSERT, [pairing_row(p) for p in made])
        return bool(gone or new or used or made)

    def _drop_expired(self, conn: Conn) -> bool:
        """Sessions and pairings past their end leave with every change (here: the
        batch updates, which do not read every record); whether any did."""
        now = self.now()
        gone = conn.execute(
            f"DELETE FROM {SCHEMA}.sessions WHERE expires_at <= %s RETURNING id", (now,)
        ).fetchall()
        used = conn.execute(
            f"DELETE FROM {SCHEMA}.pairings WHERE expires_at <= %s RETURNING digest", (now,)
        ).fetchall()
        return bool(gone or used)

    def record_usage(self, used: Mapping[str, Used]) -> int:
        with self._busy:  # one thread at a time on the connection
            return self._record_usage(used)

    def _record_usage(self, used: Mapping[str, Used]) -> int:
        """One UPDATE for the whole batch (later times win), not a rewrite: the
        gateway's `last_used_at` and `last_used_from`, at most once a minute per
        token."""
        if not used:
            return 0
        batch = usage_batch(used)
        ids = list(batch)
        times = [batch[i][0] for i in ids]
        sources = [batch[i][1] for i in ids]
        conn = self._connection.get()
        try:
            with conn.transaction():
                number, _ = self._locked(conn)
                changed = conn.execute(
                    f"""UPDATE {SCHEMA}.tokens AS t
                        SET last_used_at = u.at, last_used_from = u.source, changed = %s
                        FROM unnest(%s::text[], %s::timestamptz[], %s::text[])
                            AS u(id, at, source)
                        WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)
                        RETURNING t.id""",
                    (number + 1, ids, times, sources),
                ).fetchall()
                if changed:
                    expired = self._drop_expired(conn)
                    self._commit_change(conn, number + 1, sessions=expired)
        except StoreError:
            raise
        except psycopg.Error as exc:
            self._after_error(conn)
            raise translate(exc, self.location, reading=False) from None
        self.last_written = None  # the records are not all here: a reader reads the rows
        return len(changed)

    def record_session_seen(self, seen: Mapping[str, tuple[datetime, str | None]]) -> int:
        with self._busy:  # one thread at a time on the connection
            return self._record_session_seen(seen)

    def _record_session_seen(self, seen: Mapping[str, tuple[datetime, str | None]]) -> int:
        """One UPDATE for the whole batch, as `record_usage`."""
        if not seen:
            return 0
        ids = list(seen)
        times = [to_utc(seen[i][0]).replace(microsecond=0) for i in ids]
        clients = [client_text(seen[i][1], MAX_CLIENT_LEN) for i in ids]
        conn = self._connection.get()
        try:
            with conn.transaction():
                number, _ = self._locked(conn)
                changed = conn.execute(
                    f"""UPDATE {SCHEMA}.sessions AS s
                        SET last_seen_at = u.at, client = coalesce(u.client, s.client)
                        FROM unnest(%s::text[], %s::timestamptz[], %s::text[])
                            AS u(id, at, client)
                        WHERE s.id = u.id AND (s.last_seen_at IS NULL OR s.last_seen_at < u.at)
                        RETURNING s.id""",
                    (ids, times, clients),
                ).fetchall()
                if changed:
                    self._drop_expired(conn)
                    self._commit_change(conn, number + 1, sessions=True)
        except StoreError:
            raise
        except psycopg.Error as exc:
            self._after_error(conn)
            raise translate(exc, self.location, reading=False) from None
        self.last_written = None
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
