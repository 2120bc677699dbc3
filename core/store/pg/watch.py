"""Following a database store from a gateway, forward-auth or the TUI: revocation
pushed by LISTEN/NOTIFY, checked by a short poll, and no query per decision.

`ChangeWatcher` keeps one connection of its own in a background thread: it
LISTENs on the store's channel (every change NOTIFYs its change number at
commit) and, every `poll_interval`, also SELECTs the change number - so a lost
notification, or a listening connection that died quietly, costs at most one
poll. Its `key()` is what an authorizer compares on every decision: two
attribute reads and a clock read.

Fail closed: when the watcher's connection is broken, or no poll has
succeeded for `max_stale` seconds (a network that drops packets rather than
refusing them), `key()` is `Stale` - a marker that changes every `retry`
seconds - so the authorizer reads the database itself (`PgReader.reload`), at
most once per `retry`, and refuses every request (503) while that read fails.
Hence a deletion reaches every host within the time a notification takes; if
notifications are lost, within `poll_interval`; if the host cannot reach the
database at all, its requests are refused within `max_stale`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass

import psycopg

from core.model.errors import StoreError
from core.store import Snapshot
from core.store.pg.connection import Connection, connect, one_line
from core.store.pg.records import Change, Records, read_current
from core.store.pg.schema import CHANNEL, SCHEMA

DEFAULT_POLL_INTERVAL = 0.5
DEFAULT_MAX_STALE = 1.0


@dataclass(frozen=True, slots=True)
class Stale:
    """The store's changes cannot be followed right now; `bucket` moves on every
    `retry` seconds, so whoever compares keys reads again that often."""

    bucket: int


class ChangeWatcher:
    """The last change number a database store announced (see the module docstring)."""

    def __init__(
        self,
        url: str,
        location: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_stale: float = DEFAULT_MAX_STALE,
        retry: float | None = None,
    ) -> None:
        self.url = url
        self.location = location
        self.poll_interval = poll_interval
        self.max_stale = max_stale
        self.retry = poll_interval if retry is None else retry
        self._change: Change | None = None
        self._confirmed_at = -math.inf
        self._broken = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.polls = 0
        self.notifications = 0

    # --- what readers ask (any thread, cheap) ---------------------------------------

    def bucket(self) -> int:
        return int(time.monotonic() / self.retry)

    def key(self) -> Change | Stale:
        change = self._change
        now = time.monotonic()
        if change is None or self._broken or now - self._confirmed_at > self.max_stale:
            return Stale(int(now / self.retry))
        return change

    def observe(self, version: Hashable) -> None:
        """A read saw `version`: the watcher knows at least that much (its
        notification may still be on the way)."""
        if not isinstance(version, Change):
            return
        with self._lock:
            known = self._change
            if known is None or known.instance != version.instance or version.covers(known):
                self._change = version

    # --- the thread -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="opencode-auth-tui store watcher", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.poll_interval + 2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                conn = connect(self.url, self.location, autocommit=True)
                conn.execute(f"LISTEN {CHANNEL}")
                self._follow(conn)
            except (psycopg.Error, StoreError) as exc:
                self._broken = True
                self.last_error = str(exc) if isinstance(exc, StoreError) else one_line(exc)
            finally:
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
            self._stop.wait(self.retry)

    def _follow(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_poll:
                row = conn.execute(f"SELECT change, instance FROM {SCHEMA}.state").fetchone()
                if row is None:
                    raise StoreError(self.location, "the token store's state row is missing")
                with self._lock:
                    self._change = Change(str(row[1]), int(str(row[0])))
                    self._confirmed_at = now  # as of before the query was sent
                    self._broken = False
                self.polls += 1
                next_poll = now + self.poll_interval
            for notify in conn.notifies(timeout=max(0.0, next_poll - time.monotonic())):
                if notify.channel != CHANNEL:
                    continue
                self.notifications += 1
                try:
                    number = int(notify.payload)
                except ValueError:
                    next_poll = 0.0  # not ours to parse: ask the table instead
                    break
                with self._lock:
                    known = self._change
                    if known is not None and number > known.number:
                        self._change = Change(known.instance, number)
                if self._stop.is_set():
                    break


class PgReader:
    """A database store for an authorizer (`core.store.RecordSource`): the version
    marker is the watcher's (no round trip per decision); a read fetches only
    what changed since the version held."""

    def __init__(
        self,
        url: str,
        location: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_stale: float = DEFAULT_MAX_STALE,
    ) -> None:
        self.location = location
        self._connection = Connection(url, location)
        self._records = Records(location)
        self.watcher = ChangeWatcher(
            url, location, poll_interval=poll_interval, max_stale=max_stale
        )
        self._current: Snapshot[Change] | None = None
        self._read_in: int | None = None
        self.reads = 0
        self._busy = threading.Lock()  # one thread at a time on the connection (engine.py)

    def stat_key(self) -> Hashable:
        if self.watcher._thread is None:  # started by the first decision, not before
            self.watcher.start()
        return self.watcher.key()

    def is_current(self, key: object) -> bool:
        held = self._current
        if held is None:
            return False
        if isinstance(key, Stale):  # not followed: a read in this bucket will do
            return self._read_in == key.bucket
        version = held.version
        return isinstance(version, Change) and version.covers(key)

    def reload(self) -> Snapshot[Change]:
        bucket = self.watcher.bucket()
        try:
            with self._busy:
                snapshot = read_current(self._connection, self._records)
        except StoreError:
            self._current = None  # never fall back to an older version
            raise
        self.reads += 1
        self._current = snapshot
        self._read_in = bucket
        self.watcher.observe(snapshot.version)
        return snapshot

    def adopt(self, found: Snapshot[Change]) -> None:
        if isinstance(found.version, Change):
            self._records.install(list(found.records), found)
            self._current = found
            self.watcher.observe(found.version)

    @property
    def current(self) -> Snapshot[Change] | None:
        return self._current

    def close(self) -> None:
        self.watcher.close()
        with self._busy:
            self._connection.drop()
