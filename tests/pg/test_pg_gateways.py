"""Gateways and forward-auth on one database, as separate processes (the real
command line): a revocation reaches every one of them within a second; the
database going away mid-load closes them all (503), loses nothing, and they
recover by themselves when it is back."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from core.store.pg.engine import PostgresStore
from core.store.pg.schema import SCHEMA
from tests.cli.conftest import SCRIPT
from tests.gateway import processes
from tests.pg.cluster import Cluster
from tests.pg.conftest import start_cluster

pytestmark = pytest.mark.slow

PASSWORD = "upstream-secret-pw"
REVOCATION_LIMIT = 1.0


def status(url: str, secret: str, *, forward_auth: bool = False) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        if forward_auth:
            headers.update({"X-Original-Method": "GET", "X-Original-URI": "/vcs"})
            conn.request("GET", "/", headers=headers)
        else:
            conn.request("GET", "/vcs", headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def cli(url: str, *args: str) -> tuple[int, str]:
    import subprocess

    proc = subprocess.run(
        [str(SCRIPT), "--store", url, *args], capture_output=True, text=True, timeout=60
    )
    return proc.returncode, proc.stderr


@pytest.fixture
def upstream() -> Iterator[str]:
    child, url = processes.fake_upstream(PASSWORD)
    with child:
        yield url


def servers(store_url: str, upstream: str) -> list[tuple[processes.Child, str, bool]]:
    """Two gateways and a forward-auth on the same database, listening (the
    gateways once they have learned opencode's directory)."""
    store: Any = store_url  # processes.* pass --store on as str(store)
    started: list[tuple[processes.Child, bool]] = [
        (processes.gateway(store, upstream, password=PASSWORD), False),
        (processes.gateway(store, upstream, password=PASSWORD), False),
        (processes.forward_auth(store, upstream=upstream, password=PASSWORD), True),
    ]
    return [
        (child, child.listening_url() if fa else child.serving_url(), fa) for child, fa in started
    ]


def until_refused(url: str, secret: str, forward_auth: bool, start: float) -> float:
    while True:
        code = status(url, secret, forward_auth=forward_auth)
        if code == 401:
            return time.monotonic() - start
        assert code == 200, code
        assert time.monotonic() - start < 10, "never refused"


def test_a_deleted_token_is_refused_by_every_server_within_a_second(
    pg_url: str, upstream: str
) -> None:
    store = PostgresStore(pg_url)
    secret = store.create(name="victim").secret.reveal()
    keep = store.create(name="keep").secret.reveal()
    running = servers(pg_url, upstream)
    try:
        for _, url, fa in running:
            assert status(url, secret, forward_auth=fa) == 200
        # the CLI deletes it on "another host": each server must refuse it soon after
        code, err = cli(pg_url, "token", "delete", "victim", "--yes")
        deleted = time.monotonic()
        assert code == 0, err
        delays = [until_refused(url, secret, fa, deleted) for _, url, fa in running]
        assert max(delays) < REVOCATION_LIMIT, delays
        for _, url, fa in running:
            assert status(url, keep, forward_auth=fa) == 200  # the others still pass
    finally:
        for child, _, _ in running:
            child.stop()
    for child, _, _ in running:
        joined = "\n".join(child.err)
        assert "store: postgresql://postgres@/" in joined  # the start-up line names it


def test_a_change_whose_notification_is_lost_is_caught_by_the_poll(
    pg_url: str, pg_cluster: Cluster, upstream: str
) -> None:
    """A deletion made behind the tool's back (no NOTIFY: as if the notification
    were lost) still reaches the servers, through the poll of the change number."""
    store = PostgresStore(pg_url)
    secret = store.create(name="quiet").secret.reveal()
    running = servers(pg_url, upstream)
    try:
        for _, url, fa in running:
            assert status(url, secret, forward_auth=fa) == 200
        database = pg_url.split("/")[3].split("?")[0]
        pg_cluster.sql(
            f"BEGIN; DELETE FROM {SCHEMA}.tokens WHERE name = 'quiet';"
            f"INSERT INTO {SCHEMA}.deleted (id, changed) "
            f"SELECT '{store.get('quiet').id}', change + 1 FROM {SCHEMA}.state;"
            f"UPDATE {SCHEMA}.state SET change = change + 1; COMMIT;",
            database=database,
        )
        deleted = time.monotonic()
        delays = [until_refused(url, secret, fa, deleted) for _, url, fa in running]
        assert max(delays) < REVOCATION_LIMIT, delays
    finally:
        for child, _, _ in running:
            child.stop()


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster this test may stop and start."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


def test_the_database_going_away_closes_every_server_and_they_recover(
    own_cluster: Cluster, upstream: str
) -> None:
    url = own_cluster.url(own_cluster.new_database())
    store = PostgresStore(url)
    store.init_schema()
    keep = store.create(name="keep").secret.reveal()
    revoked = store.create(name="revoked").secret.reveal()
    store.delete(["revoked"])
    store.close()
    idle = PostgresStore(url)  # a long-lived store (the TUI) that sleeps through it all
    idle.load()
    running = servers(url, upstream)
    seen: list[tuple[float, str, int]] = []  # (when, which token, status)
    created: list[str] = []
    create_failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            for _, server, fa in running:
                for which, secret in (("keep", keep), ("revoked", revoked)):
                    try:
                        seen.append(
                            (time.monotonic(), which, status(server, secret, forward_auth=fa))
                        )
                    except OSError:
                        seen.append((time.monotonic(), which, -1))
            time.sleep(0.01)

    def writer() -> None:
        writing = PostgresStore(url, lock_timeout=2)
        i = 0
        while not stop.is_set():
            name = f"during-{i}"
            i += 1
            try:
                writing.create(name=name)
            except Exception as exc:  # a StoreError while the database is down
                create_failures.append(type(exc).__name__)
            else:
                created.append(name)
            time.sleep(0.02)

    threads = [threading.Thread(target=load), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        own_cluster.stop("fast")
        stopped = time.monotonic()
        time.sleep(2.5)
        # while it is down, the CLI cannot change anything either: one line, exit 3
        code, err = cli(url, "token", "delete", "keep", "--yes")
        assert code == 3 and len(err.strip().splitlines()) == 1, err
        assert "cannot connect to the database" in err
        restarting = time.monotonic()
        own_cluster.start()
        restarted = time.monotonic()
        deadline = restarted + 10
        while time.monotonic() < deadline:
            recent = [s for t, w, s in seen[-30:] if w == "keep" and t > restarted]
            if len(recent) >= 6 and all(s == 200 for s in recent[-6:]):
                break
            time.sleep(0.1)
        recovered = time.monotonic()
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for child, _, _ in running:
            child.stop()

    # the idle store's connection died with the server: it is replaced, unnoticed
    assert "keep" in {r.name for r in idle.load().records}
    idle.create(name="after-the-restart")
    idle.close()
    # no token lost: everything a writer was told it created is there, and "keep"
    # (whose deletion failed) too
    names = {r.name for r in PostgresStore(url).tokens()}
    assert set(created) <= names and "keep" in names and "revoked" not in names
    assert create_failures, "the writer never saw the database down"
    # nothing let through: the revoked token never passed; a second after the
    # stop every request was refused with 503 until the restart
    assert all(s in (401, 503) for _, w, s in seen if w == "revoked")
    down = [s for t, w, s in seen if stopped + 1.0 < t < restarting]
    assert down and set(down) == {503}, set(down)
    assert all(s in (200, 503) for _, w, s in seen if w == "keep")
    # and back by themselves, without a restart of any server
    after = [s for t, w, s in seen if w == "keep" and t > recovered - 0.5]
    assert after and after[-1] == 200
    for child, _, _ in running:
        log = "\n".join(child.err)
        assert "token store unusable, refusing every request with 503" in log
        assert "cannot connect to the database" in log
        assert "readable again" in log
