"""Browser sessions and pairing links on both engines: every store operation the
same on the file and on PostgreSQL; schema migration 2 (`db upgrade` from version
1 keeps every token); a change to sessions reaching a second reader (NOTIFY, and
the poll); a pairing link used by two processes at once signing in one."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Reason
from core.model.errors import PairingInvalid, SessionNotFound, TokenExpired, TokenNotFound
from core.model.records import PAIRING_LIFETIME, SESSION_LIFETIME
from core.model.token_format import PAIRING_PREFIX, digest, generate
from core.store import Store, TokenStore
from core.store.pg import schema
from core.store.pg.connection import connect
from core.store.pg.engine import PostgresStore
from core.store.pg.records import Change
from core.store.pg.schema import SCHEMA
from core.store.pg.watch import PgReader
from tests.cli.conftest import SCRIPT
from tests.core.core_helpers import T0_S, FakeClock, SeededBytes, forkserver
from tests.pg import workers

UA = "Mozilla/5.0 (X11; Linux x86_64)"


@pytest.fixture(params=["file", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, FakeClock]]:
    """A store on each engine, with a clock the test moves."""
    clock = FakeClock()
    store: Store
    if request.param == "file":
        store = TokenStore(tmp_path / "auth-tokens.json", clock=clock, token_bytes=SeededBytes())
    else:
        store = PostgresStore(request.getfixturevalue("pg_url"), clock=clock)
    try:
        yield store, clock
    finally:
        store.close()


def fresh(store: Store, clock: FakeClock) -> Store:
    """Another process's view of the same store (nothing cached)."""
    if isinstance(store, PostgresStore):
        return PostgresStore(store.url, clock=clock)
    assert isinstance(store, TokenStore)
    return TokenStore(store.path, clock=clock)


# --- the operations, on both engines -----------------------------------------------------


def test_sessions_are_made_listed_seen_and_ended(engine: tuple[Store, FakeClock]) -> None:
    store, clock = engine
    phone = store.create(name="phone", expires="never").record
    store.create(name="laptop", expires="1d")
    a = store.create_session("phone", client="192.0.2.1", user_agent=UA)
    b = store.create_session("laptop", client=None, user_agent=None)
    assert a.record.expires_at == T0_S + SESSION_LIFETIME
    assert b.record.expires_at == store.get("laptop").expires_at  # never past its token
    assert a.record.digest == digest(a.secret.reveal())
    other = fresh(store, clock)
    assert other.sessions() == (a.record, b.record)
    later = clock.advance(minutes=3)
    assert (
        other.record_session_seen({a.record.id: (later, "198.51.100.2"), "zzzzzzzz": (later, None)})
        == 1
    )
    seen = {s.id: s for s in store.sessions()}
    assert seen[a.record.id].last_seen_at == later.replace(microsecond=0)
    assert seen[a.record.id].client == "198.51.100.2"
    with pytest.raises(SessionNotFound):
        store.end_sessions([a.record.id, "zzzzzzzz"])
    assert len(fresh(store, clock).sessions()) == 2  # all or nothing
    assert store.end_sessions([b.record.id]) == (b.record,)
    assert [s.id for s in other.sessions()] == [a.record.id]
    with pytest.raises(TokenNotFound):
        store.create_session("nope", client=None, user_agent=None)
    assert [s.token_id for s in store.end_sessions_of("phone")] == [phone.id]
    assert other.sessions() == ()


def test_a_pairing_link_on_each_engine(engine: tuple[Store, FakeClock]) -> None:
    store, clock = engine
    token = store.create(name="phone").record
    issued = store.create_pairing("phone")
    code = issued.code.reveal()
    assert issued.record.expires_at == T0_S + PAIRING_LIFETIME
    other = fresh(store, clock)
    status = other.pairing_state(code)
    assert (status.state, status.token_name) == ("valid", "phone")
    session = other.consume_pairing(code, client="192.0.2.9", user_agent=UA)
    assert session.record.via == "pairing" and session.record.token_id == token.id
    with pytest.raises(PairingInvalid) as used:
        store.consume_pairing(code, client=None, user_agent=None)
    assert used.value.reason == "unknown"
    late = store.create_pairing("phone").code.reveal()
    clock.advance(minutes=6)
    assert fresh(store, clock).pairing_state(late).state == "expired"
    with pytest.raises(PairingInvalid) as expired:
        store.consume_pairing(late, client=None, user_agent=None)
    assert expired.value.reason == "expired"
    assert [s.id for s in fresh(store, clock).sessions()] == [session.record.id]


@pytest.mark.parametrize(
    "end",
    [
        lambda s: s.delete(["phone"]),
        lambda s: s.rotate("phone"),
        lambda s: s.edit("phone", permissions="read"),
        lambda s: s.edit("phone", expires="7d"),
        lambda s: s.edit("phone", directories=["/srv"]),
    ],
    ids=["delete", "rotate", "permissions", "expiry", "directories"],
)
def test_sessions_and_links_end_with_their_token(
    engine: tuple[Store, FakeClock], end: object
) -> None:
    store, clock = engine
    store.create(name="phone")
    other_token = store.create(name="other").record
    store.create_session("phone", client=None, user_agent=None)
    kept = store.create_session("other", client=None, user_agent=None).record
    code = store.create_pairing("phone").code.reveal()
    store.create_pairing("other")
    end(fresh(store, clock))  # type: ignore[operator]
    after = fresh(store, clock).load()
    assert after.sessions == (kept,)
    assert [p.token_id for p in after.pairings] == [other_token.id]
    assert store.pairing_state(code).state == "unknown"


def test_renaming_keeps_the_sessions_and_expired_ones_leave(
    engine: tuple[Store, FakeClock],
) -> None:
    store, clock = engine
    store.create(name="phone", expires="never")
    store.create(name="day", expires="1d")
    kept = store.create_session("phone", client=None, user_agent=None).record
    store.create_session("day", client=None, user_agent=None)
    store.edit("phone", name="my phone", note="blue")
    assert len(fresh(store, clock).sessions()) == 2
    clock.advance(days=2)
    version = store.version() if isinstance(store, TokenStore) else None
    store.prune(only=set())  # a change that changes nothing: nothing written
    if version is not None:
        assert store.version() == version
    store.create(name="new")  # any change drops what has expired
    assert fresh(store, clock).sessions() == (kept,)
    assert fresh(store, clock).load().pairings == ()


def test_last_used_from_on_each_engine(engine: tuple[Store, FakeClock]) -> None:
    store, clock = engine
    a = store.create(name="a").record
    b = store.create(name="b").record
    when = clock.advance(minutes=1)
    assert store.record_usage({a.id: (when, "2001:db8::9"), b.id: when}) == 2
    other = fresh(store, clock)
    assert other.get("a").last_used_from == "2001:db8::9"
    assert other.get("b").last_used_from is None
    store.rotate("a")
    assert fresh(store, clock).get("a").last_used_from is None


def test_expired_tokens_get_no_session(engine: tuple[Store, FakeClock]) -> None:
    store, clock = engine
    store.create(name="hour", expires="1h")
    clock.advance(hours=2)
    with pytest.raises(TokenExpired):
        store.create_session("hour", client=None, user_agent=None)
    with pytest.raises(TokenExpired):
        store.create_pairing("hour")


# --- PostgreSQL only ---------------------------------------------------------------------


def _v1_database(url: str) -> None:
    """A database as the previous build made it: schema version 1, two tokens."""
    conn = connect(url, "db")
    try:
        schema.init(conn, "oldinstance", {1: schema.MIGRATIONS[1]})
        with conn.transaction():
            for i, name in enumerate(("ci", "laptop")):
                conn.execute(
                    f"""INSERT INTO {SCHEMA}.tokens (id, name, name_key, permissions,
                        created_at, expires_at, last_used_at, hint, digest, changed)
                        VALUES (%s, %s, %s, %s, now(), NULL, NULL, 'ocat_…abcd', %s, 1)""",
                    (f"tok{i}aaaa", name, name, ["read"], "sha256:" + f"{i:064x}"),
                )
            conn.execute(f"UPDATE {SCHEMA}.state SET change = 1")
    finally:
        conn.close()


def _run(*args: str, env_home: Path) -> tuple[int, str, str]:
    import subprocess

    proc = subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(env_home), "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_db_upgrade_brings_a_version_1_schema_to_2_keeping_every_token(
    pg_empty_url: str, tmp_path: Path
) -> None:
    _v1_database(pg_empty_url)
    code, _, err = _run("--store", pg_empty_url, "token", "list", env_home=tmp_path)
    assert code == 3 and "version 1; this build needs 2" in err and "db upgrade" in err
    code, out, err = _run("--store", pg_empty_url, "db", "upgrade", env_home=tmp_path)
    assert code == 0, err
    assert "from version 1 to 2." in out
    store = PostgresStore(pg_empty_url)
    try:
        tokens = store.tokens()
        assert [(t.id, t.name, t.last_used_from) for t in tokens] == [
            ("tok0aaaa", "ci", None),
            ("tok1aaaa", "laptop", None),
        ]
        # the new tables work, and follow the tokens
        store.create_session("ci", client="192.0.2.1", user_agent=UA)
        store.create_pairing("laptop")
        assert len(store.sessions()) == 1 and len(store.load().pairings) == 1
        store.delete(["ci", "laptop"])
        assert store.sessions() == () and store.load().pairings == ()
    finally:
        store.close()
    conn = connect(pg_empty_url, "db")
    try:
        assert schema.installed_version(conn) == 2
        # what the database itself refuses: a session of no token, a secret in plain text
        with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
            conn.execute(
                f"""INSERT INTO {SCHEMA}.sessions (id, digest, token_id, created_at,
                    expires_at, via) VALUES ('abcd1234', %s, 'nosuchid', now(), now(), 'login')""",
                ("sha256:" + "1" * 64,),
            )
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute(
                f"""INSERT INTO {SCHEMA}.pairings (digest, token_id, created_at, expires_at)
                    VALUES ('ocpair_plaintext', 'tok0aaaa', now(), now())"""
            )
    finally:
        conn.close()


def test_a_session_change_reaches_a_second_reader(pg_url: str) -> None:
    """A gateway on another host: a new session is honoured, an ended one refused,
    within the time a notification takes (and a last-seen batch reaches it)."""
    store = PostgresStore(pg_url)
    store.create(name="phone")
    reader = PgReader(pg_url, store.location)
    authorizer = CachedAuthorizer(reader)
    try:
        assert authorizer.decide(None, "GET", "/vcs").status == 401  # starts the watcher
        deadline = time.monotonic() + 5
        while not isinstance(reader.stat_key(), Change):
            assert time.monotonic() < deadline, reader.watcher.last_error
            time.sleep(0.02)
        cookie = store.create_session("phone", client=None, user_agent=UA).secret.reveal()
        deadline = time.monotonic() + 1.0
        while not authorizer.decide(None, "GET", "/vcs", cookie=cookie).allowed:
            assert time.monotonic() < deadline, "the new session never arrived"
            time.sleep(0.005)
        held = authorizer.held()
        assert held is not None and len(held.sessions) == 1
        # a token-only change: the sessions are not read again
        store.create(name="other")
        deadline = time.monotonic() + 1.0
        while len(authorizer.index()) != 2:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        after = authorizer.held()
        assert after is not None and after.sessions is held.sessions
        # last seen, in a batch
        (session,) = store.sessions()
        store.record_session_seen({session.id: (store.now(), "203.0.113.5")})
        deadline = time.monotonic() + 1.0
        while True:
            authorizer.index()
            current = authorizer.held()
            if current is not None and current.sessions[0].client == "203.0.113.5":
                break
            assert time.monotonic() < deadline, "the batch never arrived"
            time.sleep(0.005)
        assert authorizer.decide(None, "GET", "/vcs", cookie=cookie).allowed
        # ended elsewhere: refused at once
        PostgresStore(pg_url).end_sessions([session.id])
        deadline = time.monotonic() + 1.0
        while authorizer.decide(None, "GET", "/vcs", cookie=cookie).allowed:
            assert time.monotonic() < deadline, "the ending never arrived"
            time.sleep(0.005)
        decision = authorizer.decide(None, "GET", "/vcs", cookie=cookie)
        assert decision.reason is Reason.UNKNOWN_SESSION
        assert reader.watcher.notifications >= 1
    finally:
        reader.close()
        store.close()


def test_a_lost_notification_is_caught_by_the_poll(pg_url: str) -> None:
    """A session ended by a writer whose NOTIFY never arrives (here: sent on another
    channel) still reaches the reader, by the poll of the change number."""
    store = PostgresStore(pg_url)
    store.create(name="phone")
    cookie = store.create_session("phone", client=None, user_agent=None).secret.reveal()
    (session,) = store.sessions()
    reader = PgReader(pg_url, store.location, poll_interval=0.2)
    authorizer = CachedAuthorizer(reader)
    try:
        assert authorizer.decide(None, "GET", "/vcs", cookie=cookie).allowed
        conn = connect(pg_url, "db")
        try:
            with conn.transaction():
                number = conn.execute(f"SELECT change FROM {SCHEMA}.state FOR UPDATE").fetchone()
                assert number is not None
                conn.execute(f"DELETE FROM {SCHEMA}.sessions WHERE id = %s", (session.id,))
                conn.execute(
                    f"UPDATE {SCHEMA}.state SET change = %s, sessions_changed = %s",
                    (number[0] + 1, number[0] + 1),
                )
        finally:
            conn.close()
        started = time.monotonic()
        while authorizer.decide(None, "GET", "/vcs", cookie=cookie).allowed:
            assert time.monotonic() - started < 2.0, "the poll never caught it"
            time.sleep(0.01)
    finally:
        reader.close()
        store.close()


def test_a_pairing_link_used_by_two_processes_at_once_signs_in_one(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.create(name="phone", expires="never")
    ctx = forkserver()
    try:
        for _ in range(4):
            code = store.create_pairing("phone").code.reveal()
            barrier = ctx.Barrier(2)
            pipes, procs = [], []
            for _ in range(2):
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=workers.consume, args=(pg_url, code, barrier, send))
                proc.start()
                send.close()
                pipes.append(receive)
                procs.append(proc)
            results = []
            for pipe in pipes:
                assert pipe.poll(60)
                results.append(pipe.recv())
            for proc in procs:
                proc.join(30)
            assert sorted(r[0] for r in results) == ["refused", "signed in"], results
        assert len(store.sessions()) == 4 and store.load().pairings == ()
    finally:
        store.close()


def _at_once(call: Callable[[], object], threads: int = 6) -> list[str]:
    """`call` from `threads` threads released together: each one's outcome."""
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def run() -> None:
        barrier.wait()
        try:
            call()
            outcomes.append("ok")
        except Exception as exc:  # the outcome is what the test looks at
            outcomes.append(type(exc).__name__)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(60)
    return outcomes


def test_one_store_used_from_many_threads_keeps_its_transactions_apart(pg_url: str) -> None:
    """The gateway calls its store from a thread pool (the sign-in pages, usage
    batches). On one shared connection, six presses of one pairing link at once
    once nested their transactions: several sessions from a one-time code, a
    transaction left open holding the state row - and then every other writer,
    `token delete` included, timed out. Anyone can send well-formed codes."""
    gateway = PostgresStore(pg_url)
    other = PostgresStore(pg_url, lock_timeout=2.0)  # the CLI, in another process
    try:
        gateway.create(name="phone", expires="never")
        for _ in range(5):
            code = gateway.create_pairing("phone").code.reveal()
            press = functools.partial(gateway.consume_pairing, code, client=None, user_agent=None)
            outcomes = _at_once(press)
            assert sorted(outcomes) == ["PairingInvalid"] * 5 + ["ok"], outcomes
        assert len(other.sessions()) == 5 and other.load().pairings == ()

        # a burst of made-up codes (no token needed to send them) leaves no lock held
        def made_up() -> object:
            code = generate(os.urandom, PAIRING_PREFIX).reveal()
            return gateway.consume_pairing(code, client=None, user_agent=None)

        for _ in range(3):
            assert _at_once(made_up) == ["PairingInvalid"] * 6
        other.delete(["phone"])
        assert gateway.load().records == () and gateway.sessions() == ()
    finally:
        gateway.close()
        other.close()


def test_expired_sessions_leave_with_a_usage_batch(pg_url: str) -> None:
    """The batch updates (last used, last seen) do not read every record, but drop
    what has expired all the same."""
    clock = FakeClock()
    store = PostgresStore(pg_url, clock=clock)
    try:
        token = store.create(name="phone", expires="never").record
        store.create_session("phone", client=None, user_agent=None)
        store.create_pairing("phone")
        clock.advance(days=SESSION_LIFETIME.days + 1)
        assert store.record_usage({token.id: (clock.now, "192.0.2.1")}) == 1
        other = PostgresStore(pg_url, clock=clock)
        assert other.sessions() == () and other.load().pairings == ()
        other.close()
    finally:
        store.close()
