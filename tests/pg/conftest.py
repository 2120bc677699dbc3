"""Fixtures for the tests against a real PostgreSQL (tests/pg/cluster.py).

One throw-away cluster per session, and a database of its own for each test
(CREATE DATABASE is a fraction of a second). On a laptop without PostgreSQL or
psycopg these tests skip and say how to install them; with `CI` set they fail:
a green CI run means the database engine was tested against the real thing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.pg.cluster import Cluster, new_cluster, why_not_runnable


def missing(reason: str) -> NoReturn:
    """Skip, or - when CI is set - fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed: pip install -e '.[test]' (or '.[postgres]')")


def start_cluster() -> Cluster:
    _require_psycopg()
    why = why_not_runnable()
    if why is not None:
        missing(why)
    try:
        return new_cluster()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        missing(f"a throw-away PostgreSQL cluster would not start: {exc}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def pg_empty_url(pg_cluster: Cluster) -> str:
    """A new database with no token store schema in it."""
    return pg_cluster.url(pg_cluster.new_database())


@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """A new database with the token store schema (`db init`)."""
    from core.store.pg.engine import PostgresStore

    store = PostgresStore(pg_empty_url)
    assert store.init_schema().outcome == "created"
    return pg_empty_url
