"""The database engine through the library: what a reader fetches after a change,
usage batches, validation of rows, a re-created database, the TUI's version
marker, and `migrate --to` (idempotent, conflicts reported)."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.model.errors import StoreCorrupt, StoreUnavailable
from core.store import TokenStore
from core.store.pg.engine import PostgresStore
from core.store.pg.records import Change
from core.store.pg.schema import SCHEMA
from core.store.pg.watch import PgReader, Stale
from tests.cli.conftest import SCRIPT
from tests.pg.cluster import Cluster


def database_of(url: str) -> str:
    return url.split("/")[3].split("?")[0]


def test_a_reader_fetches_only_what_changed(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    for i in range(5):
        store.create(name=f"t{i}")
    reader = PgReader(pg_url, store.location)
    try:
        first = reader.reload()
        assert first.delta is None and len(first.records) == 5  # a full read, once
        rotated = store.rotate("t1")
        store.delete(["t3"])
        made = store.create(name="t5")
        second = reader.reload()
        assert second.delta is not None
        removed, added = second.delta
        assert sorted(r.name for r in removed) == ["t1", "t3"]
        assert sorted(r.name for r in added) == ["t1", "t5"]
        assert [r.name for r in second.records] == ["t0", "t1", "t2", "t4", "t5"]  # order kept
        assert second.records == store.tokens()
        assert second.based_on == first.version
        # an authorizer on it follows: the rotated secret and the new one pass
        authorizer = CachedAuthorizer(reader)
        for secret in (rotated.secret, made.secret):
            decision = authorizer.decide(f"Bearer {secret.reveal()}", "GET", "/vcs")
            assert decision.allowed
    finally:
        reader.close()


def test_the_watcher_follows_changes_without_a_query_per_decision(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    secret = store.create(name="ci").secret.reveal()
    reader = PgReader(pg_url, store.location)
    authorizer = CachedAuthorizer(reader)
    try:
        assert authorizer.decide(f"Bearer {secret}", "GET", "/vcs").allowed
        deadline = time.monotonic() + 5
        while not isinstance(reader.stat_key(), Change):
            assert time.monotonic() < deadline, reader.watcher.last_error
            time.sleep(0.02)
        authorizer.decide(f"Bearer {secret}", "GET", "/vcs")
        reads = reader.reads
        for _ in range(2000):
            assert authorizer.decide(f"Bearer {secret}", "GET", "/vcs").allowed
        assert reader.reads == reads  # not one read for 2000 decisions
        store.delete(["ci"])
        deadline = time.monotonic() + 1.0
        while authorizer.decide(f"Bearer {secret}", "GET", "/vcs").allowed:
            assert time.monotonic() < deadline, "the deletion never arrived"
            time.sleep(0.005)
        assert reader.watcher.notifications >= 1
    finally:
        reader.close()


def test_usage_is_one_update_later_times_win_deleted_ids_ignored(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    a = store.create(name="a").record
    b = store.create(name="b").record
    t1 = datetime(2026, 12, 1, 10, 0, 0, 500_000, tzinfo=UTC)
    assert store.record_usage({a.id: t1, b.id: t1, "zzzzzzzz": t1}) == 2
    assert store.record_usage({a.id: t1 - timedelta(hours=1)}) == 0  # older: ignored
    assert store.record_usage({a.id: t1 + timedelta(minutes=1)}) == 1
    used = {r.name: r.last_used_at for r in PostgresStore(pg_url).tokens()}
    assert used == {
        "a": t1.replace(microsecond=0) + timedelta(minutes=1),
        "b": t1.replace(microsecond=0),
    }


def test_a_row_broken_by_hand_is_reported_not_used(pg_url: str, pg_cluster: Cluster) -> None:
    store = PostgresStore(pg_url)
    ci = store.create(name="ci").record.id
    pg_cluster.sql(
        f"UPDATE {SCHEMA}.tokens SET directories = ARRAY['/srv/../etc'], "
        f"changed = changed + 1; UPDATE {SCHEMA}.state SET change = change + 1",
        database=database_of(pg_url),
    )
    with pytest.raises(StoreCorrupt) as raised:
        PostgresStore(pg_url).tokens()
    assert f"token {ci}: directories: the directory '/srv/../etc' has . or .." in str(raised.value)
    # and the incremental read of a long-lived store says the same
    with pytest.raises(StoreCorrupt):
        store.load()


def test_a_database_recreated_under_the_url_is_read_whole(pg_cluster: Cluster, pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.create(name="old")
    first = store.load()
    database = database_of(pg_url)
    store.close()
    pg_cluster.sql(f"DROP DATABASE {database} WITH (FORCE)")
    pg_cluster.sql(f"CREATE DATABASE {database}")
    fresh = PostgresStore(pg_url)
    fresh.init_schema()
    fresh.create(name="new")
    again = store.load()
    assert [r.name for r in again.records] == ["new"]
    assert again.delta is None
    assert isinstance(again.version, Change) and isinstance(first.version, Change)
    assert again.version.instance != first.version.instance


def test_version_follows_other_writers_for_the_tui(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    other = PostgresStore(pg_url)
    try:
        seen = store.load().version
        deadline = time.monotonic() + 5
        while store.version() != seen:
            assert time.monotonic() < deadline, store.version()
            time.sleep(0.02)
        other.create(name="elsewhere")
        deadline = time.monotonic() + 1.0
        while store.version() == seen:
            assert time.monotonic() < deadline, "the change never showed"
            time.sleep(0.02)
        assert [r.name for r in store.load().records] == ["elsewhere"]
        assert store.version() == store.load().version
    finally:
        store.close()
        other.close()


def test_version_and_load_when_the_database_is_unreachable(tmp_path: Path) -> None:
    store = PostgresStore(f"postgresql://postgres@/x?host={tmp_path}")
    try:
        assert isinstance(store.version(), Stale)
        with pytest.raises(StoreUnavailable) as raised:
            store.load()
        assert "cannot connect to the database" in str(raised.value)
    finally:
        store.close()


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1"},
    )


def test_migrate_to_copies_a_file_into_the_database_once(pg_url: str, tmp_path: Path) -> None:
    file = tmp_path / "auth-tokens.json"
    source = TokenStore(file)
    secrets = {
        name: source.create(name=name, permissions=perms).secret.reveal()
        for name, perms in (("ci", "read"), ("laptop", None), ("deploy", "read,write"))
    }
    first = run_cli("--store", str(file), "migrate", "--to", pg_url, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        f"3 tokens in {file}: 3 copied to {PostgresStore(pg_url).location}, "
        "0 already there (same id and secret), 0 in conflict."
    )
    db = PostgresStore(pg_url)
    assert db.tokens() == source.tokens()  # ids, digests, times, order: the same
    for name, secret in secrets.items():
        check = subprocess.run(
            [str(SCRIPT), "--store", pg_url, "token", "check", "GET", "/vcs"],
            input=secret + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, (name, check.stdout)
    again = run_cli("--store", str(file), "migrate", "--to", pg_url, home=tmp_path)
    assert again.returncode == 0
    assert "0 copied" in again.stdout and "3 already there" in again.stdout
    assert db.tokens() == source.tokens()
    # a token made in the database meanwhile under a name the file also uses
    db.delete(["laptop"])
    db.create(name="LAPTOP")
    source.create(name="new-in-file")
    third = run_cli("--store", str(file), "migrate", "--to", pg_url, home=tmp_path)
    assert third.returncode == 1
    assert "1 copied" in third.stdout and "2 already there" in third.stdout
    assert "1 in conflict" in third.stdout
    laptop = source.get("laptop").id
    assert (
        f"warning: not copied: 'laptop' (id {laptop}): the name is taken by token "
        f"{db.get('LAPTOP').id}"
    ) in third.stderr
    assert sorted(r.name for r in db.tokens()) == ["LAPTOP", "ci", "deploy", "new-in-file"]


def test_migrate_to_needs_a_file_source_and_a_database_target(pg_url: str, tmp_path: Path) -> None:
    result = run_cli("--store", pg_url, "migrate", "--to", pg_url, home=tmp_path)
    assert result.returncode == 2 and "--store must name the file" in result.stderr
    result = run_cli("migrate", "--to", str(tmp_path / "x.json"), home=tmp_path)
    assert result.returncode == 2 and "postgresql:// URL" in result.stderr
    result = run_cli(
        "--store", str(tmp_path / "none.json"), "migrate", "--to", pg_url, home=tmp_path
    )
    assert result.returncode == 1 and "nothing to copy" in result.stderr


def test_a_legacy_file_is_migrated_first(pg_url: str, tmp_path: Path) -> None:
    file = tmp_path / "auth-tokens.json"
    file.write_text(
        json.dumps([{"token": "old-plain-secret-1", "permissions": ["read"], "createdAt": 1}])
    )
    file.chmod(0o600)
    result = run_cli("--store", str(file), "migrate", "--to", pg_url, home=tmp_path)
    assert result.returncode == 3
    assert "run `opencode-auth-tui migrate` to convert it" in result.stderr
    assert run_cli("--store", str(file), "migrate", "--yes", home=tmp_path).returncode == 0
    result = run_cli("--store", str(file), "migrate", "--to", pg_url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    (record,) = PostgresStore(pg_url).tokens()
    assert record.legacy
