"""The records of a database store as last read, followed change by change (only
the rows changed since the change number held are read again)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import TypeAdapter, ValidationError

from core.model.errors import (
    StoreCorrupt,
)
from core.model.records import TokenRecord, check_records
from core.model.text import escape_controls
from core.store import Snapshot
from core.store.pg.connection import Conn, Connection, translate
from core.store.pg.schema import SCHEMA

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
