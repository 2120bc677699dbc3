"""A database store the gateway's role may only read: one query at start says so
(`PostgresStore.write_problem`), and forward-auth warns once instead of failing
to record last_used_at every few seconds."""

from __future__ import annotations

import uuid

import pytest

from core.store.pg.engine import PostgresStore
from core.store.pg.schema import SCHEMA
from tests.gateway import processes
from tests.pg.cluster import Cluster


def role(cluster: Cluster, database: str, *, grants: str, settings: str = "") -> str:
    name = "r_" + uuid.uuid4().hex[:10]
    cluster.sql(f"CREATE ROLE {name} LOGIN")
    cluster.sql(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {name}", database)
    cluster.sql(f"GRANT {grants} ON ALL TABLES IN SCHEMA {SCHEMA} TO {name}", database)
    if settings:
        cluster.sql(f"ALTER ROLE {name} SET {settings}")
    return name


@pytest.fixture
def database(pg_cluster: Cluster, pg_url: str) -> str:
    store = PostgresStore(pg_url)
    try:
        store.create(name="reader", permissions="read")
    finally:
        store.close()
    return pg_url.split("@/", 1)[1].split("?", 1)[0]  # postgresql://USER@/DB?host=...


def problem(cluster: Cluster, database: str, user: str) -> str | None:
    store = PostgresStore(cluster.url(database, user=user))
    try:
        assert store.tokens()  # it can read
        return store.write_problem()
    finally:
        store.close()


def test_a_role_that_may_only_select_is_found(pg_cluster: Cluster, database: str) -> None:
    reader = role(pg_cluster, database, grants="SELECT")
    assert problem(pg_cluster, database, reader) == (
        f"the database role may not UPDATE the tables of schema {SCHEMA}"
    )


def test_a_read_only_session_is_found(pg_cluster: Cluster, database: str) -> None:
    name = role(
        pg_cluster,
        database,
        grants="SELECT, INSERT, UPDATE, DELETE",
        settings="default_transaction_read_only = on",
    )
    assert problem(pg_cluster, database, name) == (
        "the database session is read-only (default_transaction_read_only is on)"
    )


def test_a_role_that_may_write_has_no_problem(pg_cluster: Cluster, database: str) -> None:
    writer = role(pg_cluster, database, grants="SELECT, INSERT, UPDATE, DELETE")
    assert problem(pg_cluster, database, writer) is None
    assert problem(pg_cluster, database, "postgres") is None


def test_forward_auth_says_it_once_at_start(pg_cluster: Cluster, database: str) -> None:
    reader = role(pg_cluster, database, grants="SELECT")
    url = pg_cluster.url(database, user=reader)
    argv = [*processes.cli_command(), "--store", url, "forward-auth", "--any-directory"]
    with processes.Child([*argv, "--listen", "127.0.0.1:0"]) as fa:
        fa.listening_url()
        assert fa.stop() == 0
    said = [line for line in fa.err if "read-only" in line]
    assert said == [
        "opencode-auth-tui: warning: the token store is read-only (the database role may not "
        f"UPDATE the tables of schema {SCHEMA}): last_used_at will not be recorded (pass "
        "--no-last-used to silence this)"
    ]
