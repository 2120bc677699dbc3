"""The records of a database store as last read, followed change by change (only
the rows changed since the change number held are read again)."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import TypeAdapter, ValidationError

from core.model import schema
from core.model.errors import (
    StoreCorrupt,
)
from core.model.records import (
    PairingRecord,
    SessionRecord,
    TokenRecord,
    check_records,
    check_sessions,
)
from core.model.text import escape_controls
from core.store import Snapshot
from core.store.pg.connection import Conn, Connection, translate
from core.store.pg.schema import SCHEMA

_COLUMNS = (
    "id, name, permissions, created_at, expires_at, last_used_at, last_used_from, hint, "
    "digest, legacy, note, directories"
)
_FIELDS = tuple(part.strip() for part in _COLUMNS.split(","))
_RECORDS = TypeAdapter(list[schema.TokenRecord])
SESSION_COLUMNS = (
    "id, digest, token_id, created_at, expires_at, last_seen_at, client, user_agent, via"
)
_SESSION_FIELDS = tuple(part.strip() for part in SESSION_COLUMNS.split(","))
_SESSIONS = TypeAdapter(list[schema.SessionRecord])
PAIRING_COLUMNS = "digest, token_id, created_at, expires_at"
_PAIRING_FIELDS = tuple(part.strip() for part in PAIRING_COLUMNS.split(","))
_PAIRINGS = TypeAdapter(list[schema.PairingRecord])


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


def records_of(rows: Sequence[Sequence[Any]], location: str) -> list[TokenRecord]:
    """Rows validated as the file's records are (TokenRecord, then the rules
    across records; uniqueness is the database's constraints)."""
    data = [dict(zip(_FIELDS, row, strict=True)) for row in rows]
    try:
        records = [model.record() for model in _RECORDS.validate_python(data)]
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        loc = err["loc"]
        where = data[loc[0]]["id"] if loc and isinstance(loc[0], int) else "?"
        field = ".".join(str(part) for part in loc[1:]) or "row"
        raise StoreCorrupt(
            location, f"token {escape_controls(str(where))}: {field}: {err['msg']}"
        ) from None
    try:
        return list(check_records(records, fresh=records, unique=False))
    except ValueError as exc:
        problem = str(exc)
    for record in records:  # which one (only on this slow path)
        try:
            check_records([record], fresh=[record], unique=False)
        except ValueError as exc:
            problem = f"token {record.id}: {exc}"
            break
    raise StoreCorrupt(location, problem, hint="fix the row, or restore the database")


def sessions_of(
    session_rows: Sequence[Sequence[Any]],
    pairing_rows: Sequence[Sequence[Any]],
    token_ids: Collection[str],
    location: str,
) -> tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]]:
    """Session and pairing rows validated as the file's are."""
    try:
        sessions = _SESSIONS.validate_python(
            [dict(zip(_SESSION_FIELDS, row, strict=True)) for row in session_rows]
        )
        pairings = _PAIRINGS.validate_python(
            [dict(zip(_PAIRING_FIELDS, row, strict=True)) for row in pairing_rows]
        )
        return check_sessions(
            tuple(s.record() for s in sessions), tuple(p.record() for p in pairings), token_ids
        )
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in err["loc"]) or "row"
        problem = f"a session or pairing row: {where}: {err['msg']}"
    except ValueError as exc:
        problem = str(exc)
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
        record.last_used_from,
        record.hint,
        record.digest,
        record.legacy,
        record.note,
        list(record.directories),
        change,
    )


_UPSERT = f"""
INSERT INTO {SCHEMA}.tokens (id, name, name_key, permissions, created_at, expires_at,
    last_used_at, last_used_from, hint, digest, legacy, note, directories, changed)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, name_key = EXCLUDED.name_key, permissions = EXCLUDED.permissions,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
    last_used_at = EXCLUDED.last_used_at, last_used_from = EXCLUDED.last_used_from,
    hint = EXCLUDED.hint, digest = EXCLUDED.digest,
    legacy = EXCLUDED.legacy, note = EXCLUDED.note, directories = EXCLUDED.directories,
    changed = EXCLUDED.changed
"""

SESSION_UPSERT = f"""
INSERT INTO {SCHEMA}.sessions ({SESSION_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    digest = EXCLUDED.digest, token_id = EXCLUDED.token_id, created_at = EXCLUDED.created_at,
    expires_at = EXCLUDED.expires_at, last_seen_at = EXCLUDED.last_seen_at,
    client = EXCLUDED.client, user_agent = EXCLUDED.user_agent, via = EXCLUDED.via
"""
PAIRING_INSERT = f"""
INSERT INTO {SCHEMA}.pairings ({PAIRING_COLUMNS}) VALUES (%s, %s, %s, %s)
ON CONFLICT (digest) DO NOTHING
"""


def session_row(session: SessionRecord) -> tuple[Any, ...]:
    return (
        session.id,
        session.digest,
        session.token_id,
        session.created_at,
        session.expires_at,
        session.last_seen_at,
        session.client,
        session.user_agent,
        session.via,
    )


def pairing_row(pairing: PairingRecord) -> tuple[Any, ...]:
    return (pairing.digest, pairing.token_id, pairing.created_at, pairing.expires_at)


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
            f"SELECT change, instance, forgotten_through, sessions_changed FROM {SCHEMA}.state"
        ).fetchone()
        if state is None:
            raise StoreCorrupt(
                self.location,
                "the token store's state row is missing",
                hint="restore the database from a backup",
            )
        number, instance, forgotten = int(state[0]), str(state[1]), int(state[2])
        sessions_changed = int(state[3])
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
        if (
            incremental
            and held is not None
            and previous is not None
            and sessions_changed <= previous.number
        ):  # no session or pairing changed since the version held
            sessions, pairings = held.sessions, held.pairings
        else:
            sessions, pairings = self._read_sessions(conn)
        snapshot = Snapshot(
            location=self.location,
            records=tuple(self._by_id.values()),
            exists=True,
            version=now,
            delta=delta,
            based_on=previous if delta is not None else None,
            read_at_ns=started,
            sessions=sessions,
            pairings=pairings,
        )
        self.snapshot = snapshot
        return snapshot

    def _read_sessions(
        self, conn: Conn
    ) -> tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]]:
        """Every session and pairing (they are few: read whole)."""
        session_rows = conn.execute(
            f"SELECT {SESSION_COLUMNS} FROM {SCHEMA}.sessions ORDER BY seq"
        ).fetchall()
        pairing_rows = conn.execute(
            f"SELECT {PAIRING_COLUMNS} FROM {SCHEMA}.pairings ORDER BY seq"
        ).fetchall()
        return sessions_of(session_rows, pairing_rows, self._by_id, self.location)

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
