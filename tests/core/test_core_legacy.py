"""The PR #8217 file format: recognised, never touched until `migrate`, then converted
with every secret hashed, a 0600 backup kept, and the old secrets still working."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Reason
from core.model.errors import LegacyStoreFound, NotLegacyStore, StoreCorrupt
from core.model.permissions import Permission
from core.store import StoreReader, TokenStore
from tests.core.core_helpers import FakeClock

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE

MS_2026_01_01 = 1767225600000
MS_2027_01_01 = 1798761600000
MS_2025_06_01 = 1748736000000

LEGACY = [
    {
        "token": "5f2b8e0c9a7d4e3f8b1a6c0d2e4f6a8b",
        "permissions": ["read", "write", "execute"],
        "createdAt": MS_2026_01_01,
        "expiresAt": MS_2027_01_01,
        "name": "laptop",
    },
    {
        "token": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "permissions": ["read"],
        "createdAt": MS_2026_01_01 + 1234,
        "expiresAt": None,
    },
    {
        "token": "ffeeddccbbaa99887766554433221100",
        "permissions": ["write", "read"],
        "createdAt": MS_2025_06_01 - 10_000_000_000,
        "expiresAt": MS_2025_06_01,  # already expired at the test clock
        "name": "old",
    },
    {
        "token": "LaptopTokenWithMixedCase_and-dots.~+/=",
        "permissions": ["read"],
        "createdAt": MS_2026_01_01,
        "expiresAt": None,
        "name": "Laptop",  # clashes with "laptop" case-insensitively
    },
]


@pytest.fixture
def legacy_file(store_path: Path) -> bytes:
    store_path.parent.mkdir(parents=True)
    data = json.dumps(LEGACY, indent=2).encode()
    store_path.write_bytes(data)
    os.chmod(store_path, 0o644)  # the old code did not restrict the mode
    return data


def test_legacy_file_is_recognised_and_left_alone(
    store: TokenStore, store_path: Path, legacy_file: bytes
) -> None:
    with pytest.raises(LegacyStoreFound) as info:
        store.load()
    assert info.value.path == store.path
    assert "PR #8217" in str(info.value) and "4 tokens" in str(info.value)
    assert info.value.hint and "migrate" in info.value.hint
    for secret in (str(e["token"]) for e in LEGACY):
        assert secret not in str(info.value)
    for call in (
        lambda: store.create(name="new"),
        lambda: store.delete(["laptop"]),
        lambda: store.rotate("laptop"),
        lambda: store.prune(),
        lambda: store.record_usage({"abcd1234": datetime.now(UTC)}),
    ):
        with pytest.raises(LegacyStoreFound):
            call()
        assert store_path.read_bytes() == legacy_file


def test_an_empty_array_is_a_legacy_file(store: TokenStore, store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text("[]")
    with pytest.raises(LegacyStoreFound, match="0 tokens"):
        store.load()


def test_migrate_converts_hashes_and_keeps_a_private_backup(
    store: TokenStore, store_path: Path, legacy_file: bytes
) -> None:
    result = store.migrate()
    records = {r.name: r for r in result.records}
    assert set(records) == {"laptop", "token-1", "old", "Laptop (2)"}
    assert store.tokens() == result.records

    laptop = records["laptop"]
    assert laptop.legacy is True
    assert laptop.permissions == (R, W, X)
    assert laptop.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert laptop.expires_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert laptop.hint == "…6a8b"
    assert records["token-1"].created_at == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert records["token-1"].expires_at is None
    assert records["old"].permissions == (R, W)

    raw = store_path.read_text()
    for entry in LEGACY:
        assert str(entry["token"]) not in raw
    assert json.loads(raw)["version"] == 3
    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600

    assert result.backup.parent == store_path.parent
    assert result.backup.read_bytes() == legacy_file
    assert stat.S_IMODE(os.stat(result.backup).st_mode) == 0o600


def test_migrated_secrets_still_authorize(
    store: TokenStore, legacy_file: bytes, clock: FakeClock
) -> None:
    store.migrate()
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    laptop, readonly, old, mixed = (e["token"] for e in LEGACY)

    ok = auth.decide(f"Bearer {laptop}", "POST", "/session/abc/message")
    assert ok.allowed and ok.token_id == store.get("laptop").id
    assert auth.decide(f"Bearer {readonly}", "GET", "/file").allowed
    assert auth.decide(f"Bearer {mixed}", "GET", "/file").allowed
    denied = auth.decide(f"Bearer {readonly}", "POST", "/file")
    assert (denied.status, denied.reason) == (403, Reason.INSUFFICIENT_SCOPE)
    expired = auth.decide(f"Bearer {old}", "GET", "/file")
    assert (expired.status, expired.reason) == (401, Reason.EXPIRED)
    unknown = auth.decide("Bearer " + "0" * 32, "GET", "/file")
    assert (unknown.status, unknown.reason) == (401, Reason.UNKNOWN_TOKEN)


def test_rotating_a_migrated_token_gives_it_an_ocat_secret(
    store: TokenStore, legacy_file: bytes, clock: FakeClock
) -> None:
    store.migrate()
    new = store.rotate("laptop")
    assert new.record.legacy is False
    assert new.secret.reveal().startswith("ocat_")
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    assert auth.decide(f"Bearer {LEGACY[0]['token']}", "GET", "/x").reason is (Reason.UNKNOWN_TOKEN)
    assert auth.decide("Bearer " + new.secret.reveal(), "GET", "/x").allowed


def test_migrate_twice_is_refused_and_keeps_both_files(
    store: TokenStore, legacy_file: bytes
) -> None:
    first = store.migrate()
    current = store.path.read_bytes()
    with pytest.raises(NotLegacyStore, match="already in the current format"):
        store.migrate()
    assert store.path.read_bytes() == current
    assert first.backup.read_bytes() == legacy_file


def test_migrate_refuses_a_current_format_file(store: TokenStore) -> None:
    store.create(name="a")
    before = store.path.read_bytes()
    with pytest.raises(NotLegacyStore) as info:
        store.migrate()
    assert info.value.path == store.path
    assert store.path.read_bytes() == before
    assert [p.name for p in store.path.parent.iterdir() if "backup" in p.name] == []


def test_migrate_refuses_a_missing_file(store: TokenStore) -> None:
    with pytest.raises(NotLegacyStore, match="does not exist"):
        store.migrate()
    assert not store.path.exists()


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ([{"token": "same", "permissions": ["read"], "createdAt": 0}] * 2, "same secret"),
        ([{"token": "x", "permissions": ["admin"], "createdAt": 0}], "entry 0: permissions"),
        ([{"token": "x", "permissions": [], "createdAt": 0}], "entry 0: permissions"),
        ([{"token": "", "permissions": ["read"], "createdAt": 0}], "entry 0: token"),
        ([{"token": "x", "permissions": ["read"]}], "entry 0: createdAt"),
        ([{"token": "x", "permissions": ["read"], "createdAt": -1}], "createdAt"),
        ([{"token": "x", "permissions": ["read"], "createdAt": 10**20}], "createdAt"),
    ],
)
def test_unusable_legacy_entries_are_reported_and_nothing_changes(
    store: TokenStore, store_path: Path, entries: list[dict[str, object]], fragment: str
) -> None:
    store_path.parent.mkdir(parents=True)
    data = json.dumps(entries).encode()
    store_path.write_bytes(data)
    with pytest.raises(StoreCorrupt, match=fragment) as info:
        store.migrate()
    assert "same" not in str(info.value).replace("same secret", "")
    assert store_path.read_bytes() == data
    assert [p.name for p in store_path.parent.iterdir() if "backup" in p.name] == []


def test_a_short_legacy_secret_does_not_end_up_in_the_hint(
    store: TokenStore, store_path: Path, clock: FakeClock
) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text(
        json.dumps([{"token": "pw12", "permissions": ["read"], "createdAt": MS_2026_01_01}])
    )
    store.migrate()
    assert "pw12" not in store_path.read_text()
    assert (
        CachedAuthorizer(StoreReader(store_path), clock=clock)
        .decide("Bearer pw12", "GET", "/")
        .allowed
    )


def test_backups_with_the_same_timestamp_do_not_overwrite_each_other(
    store: TokenStore, store_path: Path
) -> None:
    store_path.parent.mkdir(parents=True)
    first = json.dumps(LEGACY[:1]).encode()
    store_path.write_bytes(first)
    one = store.migrate().backup
    second = json.dumps(LEGACY[1:2]).encode()
    store_path.write_bytes(second)
    two = store.migrate().backup
    assert one != two
    assert one.read_bytes() == first
    assert two.read_bytes() == second


def test_migrate_names_tokens_whose_old_secret_cannot_be_sent(
    store: TokenStore, store_path: Path, clock: FakeClock
) -> None:
    odd = {
        "spaced": "secret with spaces inside",
        "long": "a" * 513,
        "fake-ocat": "ocat_not-really-one",
        "inner-equals": "abc=def",
    }
    entries = [LEGACY[0]] + [
        {"token": token, "permissions": ["read"], "createdAt": MS_2026_01_01, "name": name}
        for name, token in odd.items()
    ]
    store_path.parent.mkdir(parents=True)
    store_path.write_text(json.dumps(entries))
    result = store.migrate()
    assert sorted(result.unusable) == sorted(odd)
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    assert auth.decide(f"Bearer {LEGACY[0]['token']}", "GET", "/file").allowed
    # What migrate warns about is exactly what the authorizer cannot accept.
    for token in odd.values():
        if " " not in token:
            assert not auth.decide(f"Bearer {token}", "GET", "/file").allowed
