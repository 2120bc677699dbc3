"""The store: create / list / get / delete / rotate / prune / record_usage, the file
format on disk (no secret, only digests), JSON Schema, warnings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Reason
from core.model.errors import InvalidExpiry, TokenNotFound
from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.model.schema import parse_document, store_json_schema
from core.model.token_format import ID_PATTERN, check_format
from core.store import StoreReader, TokenStore, read_snapshot
from tests.core.core_helpers import T0_S, FakeClock, SeededBytes

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE


def on_disk(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_bytes())
    return loaded


# --- create ---------------------------------------------------------------------------


def test_create_returns_the_record_and_the_secret_once(store: TokenStore) -> None:
    issued = store.create(name="ci", permissions="read,write", expires="30d")
    token = issued.secret.reveal()
    record = issued.record
    assert check_format(token) is None
    assert re.fullmatch(ID_PATTERN, record.id)
    assert record.name == "ci"
    assert record.permissions == (R, W)
    assert record.created_at == T0_S
    assert record.expires_at == T0_S + timedelta(days=30)
    assert record.last_used_at is None
    assert record.hint == "ocat_…" + token[-4:]
    assert record.digest == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    assert record.legacy is False
    assert store.tokens() == (record,)


def test_the_file_holds_no_secret(store: TokenStore) -> None:
    secrets = [store.create(name=f"t{i}").secret.reveal() for i in range(5)]
    raw = store.path.read_text()
    for token in secrets:
        assert token not in raw
        assert token[5:27] not in raw  # not even the entropy part
        assert token[5:20] not in raw
    doc = on_disk(store.path)
    assert doc["version"] == 3
    for entry in doc["tokens"]:
        assert set(entry) == {
            "id",
            "name",
            "permissions",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_used_from",
            "hint",
            "digest",
            "legacy",
            "note",
            "directories",
        }


def test_timestamps_are_utc_iso_8601_on_disk(store: TokenStore) -> None:
    store.create(name="a", expires="never")
    store.create(name="b", expires="2026-03-01T10:00+02:00")
    a, b = on_disk(store.path)["tokens"]
    assert a["created_at"] == "2026-01-15T12:34:56Z"
    assert a["expires_at"] is None
    assert b["expires_at"] == "2026-03-01T08:00:00Z"
    assert a["last_used_at"] is None


def test_secrets_come_from_the_injected_source(store_path: Path, clock: FakeClock) -> None:
    one = TokenStore(store_path, clock=clock, token_bytes=SeededBytes(7)).create(name="x")
    other = TokenStore(
        store_path.with_name("other.json"), clock=clock, token_bytes=SeededBytes(7)
    ).create(name="x")
    assert one.secret.reveal() == other.secret.reveal()
    assert one.record.id == other.record.id


def test_list_keeps_creation_order_and_a_fresh_store_reads_it_back(
    store: TokenStore, store_path: Path
) -> None:
    made = [store.create(name=n).record for n in ("zeta", "alpha", "mid")]
    assert [r.name for r in store.tokens()] == ["zeta", "alpha", "mid"]
    assert TokenStore(store_path).tokens() == tuple(made)


def test_missing_store_lists_nothing_and_creates_nothing(store: TokenStore) -> None:
    assert store.tokens() == ()
    snap = store.load()
    assert snap.exists is False and snap.records == ()
    assert not store.path.parent.exists()


# --- get ----------------------------------------------------------------------------


def test_get_by_id_exact_name_or_case_insensitive_name(store: TokenStore) -> None:
    ci = store.create(name="CI Runner").record
    other = store.create(name="laptop").record
    assert store.get(ci.id) == ci
    assert store.get("CI Runner") == ci
    assert store.get("ci runner") == ci
    assert store.get("  laptop ") == other
    assert store.get(other.id) == other


def test_get_unknown(store: TokenStore) -> None:
    store.create(name="x")
    with pytest.raises(TokenNotFound) as info:
        store.get("nope")
    assert "nope" in str(info.value)
    with pytest.raises(TokenNotFound) as info:
        store.get("\x1b[2Jevil")
    assert "\x1b" not in str(info.value)
    assert "\\x1b" in str(info.value)


def test_a_secret_given_as_a_reference_is_not_echoed(store: TokenStore) -> None:
    # Regression: `token show <secret>` / `token delete <secret>` (a secret
    # pasted where an id belongs) printed the whole secret in the error.
    secret = store.create(name="a").secret.reveal()
    for call in (
        lambda: store.get(secret),
        lambda: store.delete([secret]),
        lambda: store.rotate(f" {secret} "),
    ):
        with pytest.raises(TokenNotFound) as info:
            call()
        assert secret not in str(info.value)
        assert secret[5:27] not in str(info.value)
        assert secret[-4:] in str(info.value)  # the hint, so the user sees which
        assert "looks like a token secret" in str(info.value)


def test_id_wins_over_a_hand_written_name(store: TokenStore, store_path: Path) -> None:
    a = store.create(name="a").record
    b = store.create(name="b").record
    doc = on_disk(store_path)
    doc["tokens"][1]["name"] = a.id  # hand-edited: b is now named like a's id
    store_path.write_text(json.dumps(doc))
    assert store.get(a.id).name == "a"
    assert store.get(b.id).id == b.id


# --- delete -------------------------------------------------------------------------


def test_delete_by_id_and_by_name(store: TokenStore) -> None:
    a, b, c = (store.create(name=n).record for n in "abc")
    assert store.delete([a.id]) == (a,)
    assert store.delete(["C"]) == (c,)
    assert store.tokens() == (b,)


def test_delete_several_at_once_and_duplicates_count_once(store: TokenStore) -> None:
    a, b, c = (store.create(name=n).record for n in "abc")
    gone = store.delete([a.id, "a", "b"])
    assert {r.id for r in gone} == {a.id, b.id}
    assert store.tokens() == (c,)


def test_delete_is_all_or_nothing(store: TokenStore) -> None:
    a = store.create(name="a").record
    store.create(name="b")
    before = store.path.read_bytes()
    with pytest.raises(TokenNotFound, match="missing"):
        store.delete([a.id, "b", "missing"])
    assert store.path.read_bytes() == before
    assert len(store.tokens()) == 2


def test_delete_refuses_a_bare_string(store: TokenStore) -> None:
    # A str is a Sequence[str]: delete("ab") must not mean delete(["a", "b"]).
    store.create(name="a")
    store.create(name="b")
    before = store.path.read_bytes()
    with pytest.raises(TypeError):
        store.delete("ab")
    assert store.path.read_bytes() == before


def test_delete_on_a_missing_store_is_not_found(store: TokenStore) -> None:
    with pytest.raises(TokenNotFound):
        store.delete(["x"])


def test_deleted_token_stops_authorizing(store: TokenStore, clock: FakeClock) -> None:
    issued = store.create(name="a")
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    header = "Bearer " + issued.secret.reveal()
    assert auth.decide(header, "GET", "/file").allowed
    store.delete(["a"])
    decision = auth.decide(header, "GET", "/file")
    assert (decision.status, decision.reason) == (401, Reason.UNKNOWN_TOKEN)


# --- rotate -------------------------------------------------------------------------


def test_rotate_keeps_id_name_permissions_and_lifetime(store: TokenStore, clock: FakeClock) -> None:
    old = store.create(name="ci", permissions="read,execute", expires="30d")
    clock.advance(days=10, hours=5)
    new = store.rotate("ci")
    now = clock.now.replace(microsecond=0)
    assert new.record.id == old.record.id
    assert new.record.name == "ci"
    assert new.record.permissions == (R, X)
    assert new.record.created_at == now
    assert new.record.expires_at == now + timedelta(days=30)
    assert new.secret.reveal() != old.secret.reveal()
    assert new.record.digest != old.record.digest
    assert new.record.hint == new.secret.hint
    raw = store.path.read_text()
    assert old.record.digest not in raw
    assert new.record.digest in raw
    assert store.tokens() == (new.record,)


def test_rotate_keeps_an_hours_lifetime_and_never(store: TokenStore, clock: FakeClock) -> None:
    store.create(name="h", expires="36h")
    store.create(name="n", expires="never")
    clock.advance(hours=1)
    now = clock.now.replace(microsecond=0)
    assert store.rotate("h").record.expires_at == now + timedelta(hours=36)
    assert store.rotate("n").record.expires_at is None


def test_rotate_with_an_explicit_expiry(store: TokenStore) -> None:
    store.create(name="a", expires="never")
    assert store.rotate("a", expires="2d").record.expires_at == T0_S + timedelta(days=2)


def test_rotate_with_a_bad_expiry_changes_nothing(store: TokenStore) -> None:
    store.create(name="a")
    before = store.path.read_bytes()
    with pytest.raises(InvalidExpiry):
        store.rotate("a", expires="0d")
    with pytest.raises(TokenNotFound):
        store.rotate("b")
    assert store.path.read_bytes() == before


def test_rotate_revokes_the_old_secret_at_once(store: TokenStore, clock: FakeClock) -> None:
    old = store.create(name="a")
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    assert auth.decide("Bearer " + old.secret.reveal(), "GET", "/x").allowed
    new = store.rotate("a")
    assert auth.decide("Bearer " + old.secret.reveal(), "GET", "/x").reason is (
        Reason.UNKNOWN_TOKEN
    )
    decision = auth.decide("Bearer " + new.secret.reveal(), "GET", "/x")
    assert decision.allowed and decision.token_id == old.record.id


def test_rotate_an_expired_token_with_a_long_hand_edited_lifetime(
    store: TokenStore, store_path: Path, clock: FakeClock
) -> None:
    store.create(name="a")
    doc = on_disk(store_path)
    doc["tokens"][0]["created_at"] = "2000-01-01T00:00:00Z"
    doc["tokens"][0]["expires_at"] = "2030-01-01T03:00:00Z"  # 30 years and 3 hours
    store_path.write_text(json.dumps(doc))
    rotated = store.rotate("a").record
    assert rotated.expires_at == T0_S + timedelta(days=3650)


# --- prune ---------------------------------------------------------------------------


def test_prune_removes_only_expired_tokens(store: TokenStore, clock: FakeClock) -> None:
    short = store.create(name="short", expires="1h").record
    store.create(name="long", expires="30d")
    store.create(name="forever", expires="never")
    assert store.prune() == ()
    clock.advance(hours=1)  # expiry is inclusive: at expires_at the token is expired
    assert store.prune() == (short,)
    assert [r.name for r in store.tokens()] == ["long", "forever"]


def test_prune_limited_to_some_ids(store: TokenStore, clock: FakeClock) -> None:
    a = store.create(name="a", expires="1h").record
    b = store.create(name="b", expires="1h").record
    clock.advance(days=1)
    assert store.prune(only={b.id}) == (b,)
    assert store.tokens() == (a,)


def test_prune_with_nothing_to_do_does_not_rewrite(store: TokenStore) -> None:
    store.create(name="a")
    st = os.stat(store.path)
    assert store.prune() == ()
    after = os.stat(store.path)
    assert (after.st_ino, after.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


# --- record_usage ----------------------------------------------------------------------


def test_record_usage_later_times_win(store: TokenStore) -> None:
    a = store.create(name="a").record
    b = store.create(name="b").record
    t1 = datetime(2026, 1, 16, 9, 0, 0, 500000, tzinfo=UTC)
    assert store.record_usage({a.id: t1, "gone1234": t1}) == 1
    assert store.get("a").last_used_at == t1.replace(microsecond=0)
    assert store.get("b").last_used_at is None
    assert store.record_usage({a.id: t1 - timedelta(hours=1)}) == 0  # older: ignored
    assert store.get("a").last_used_at == t1.replace(microsecond=0)
    later = t1 + timedelta(minutes=5)
    assert store.record_usage({a.id: later, b.id: later}) == 2
    assert store.get("a").last_used_at == later.replace(microsecond=0)
    assert store.get("a").digest == a.digest  # nothing else changed


def test_record_usage_converts_to_utc_and_refuses_naive_times(store: TokenStore) -> None:
    a = store.create(name="a").record
    from datetime import timezone

    plus2 = timezone(timedelta(hours=2))
    store.record_usage({a.id: datetime(2026, 1, 16, 11, 0, tzinfo=plus2)})
    assert store.get("a").last_used_at == datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
    before = store.path.read_bytes()
    with pytest.raises(ValueError, match="naive"):
        store.record_usage({a.id: datetime(2026, 1, 17)})
    assert store.path.read_bytes() == before


# --- status ------------------------------------------------------------------------------


def test_status_active_expiring_expired(store: TokenStore) -> None:
    record = store.create(name="a", expires="30d").record
    assert record.status(T0_S).value == "active"
    assert record.status(T0_S + timedelta(days=23)).value == "expiring"
    assert record.status(T0_S + timedelta(days=30)).value == "expired"
    data = record.public_dict(T0_S)
    assert "digest" not in data
    assert data["status"] == "active"
    assert data["created_at"] == "2026-01-15T12:34:56Z"


# --- schema ----------------------------------------------------------------------------


def test_json_schema_describes_the_file(store: TokenStore) -> None:
    schema = store_json_schema()
    json.dumps(schema)  # serialisable as is
    assert schema["type"] == "object"
    assert schema["required"] == ["version"]
    assert schema["properties"]["version"]["enum"] == [1, 2, 3]
    assert schema["additionalProperties"] is False
    record = schema["$defs"]["TokenRecord"]
    assert record["additionalProperties"] is False
    assert set(record["required"]) >= {
        "id",
        "name",
        "permissions",
        "created_at",
        "expires_at",
        "hint",
        "digest",
    }
    assert record["properties"]["digest"]["pattern"] == r"^sha256:[0-9a-f]{64}$"
    assert "token" not in record["properties"]
    perms = schema["$defs"]["Permission"]["enum"]
    assert perms == ["read", "write", "execute"]
    # What the store writes satisfies the schema's field patterns.
    store.create(name="a")
    entry = on_disk(store.path)["tokens"][0]
    for field, spec in record["properties"].items():
        if "pattern" in spec:
            assert re.search(spec["pattern"], entry[field]), field


# --- warnings --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o444])
def test_group_or_world_readable_file_is_warned_about(store: TokenStore, mode: int) -> None:
    store.create(name="a")
    os.chmod(store.path, mode)
    warnings = store.load().warnings
    assert len(warnings) == 1
    assert str(store.path) in warnings[0]
    assert f"{mode:04o}" in warnings[0]
    assert "chmod 600" in warnings[0]


def test_private_file_has_no_warning(store: TokenStore) -> None:
    store.create(name="a")
    assert store.load().warnings == ()
    os.chmod(store.path, 0o400)
    assert read_snapshot(store.path).warnings == ()


# --- hand-written names are still shown safely --------------------------------------------


def test_hand_written_control_characters_load_and_are_escaped_for_display(
    store: TokenStore, store_path: Path
) -> None:
    from core.model.text import escape_controls

    store.create(name="a")
    doc = on_disk(store_path)
    doc["tokens"][0]["name"] = "evil\x1b[2J\u202e\x9b"
    store_path.write_text(json.dumps(doc))
    record = store.tokens()[0]
    assert record.name == "evil\x1b[2J\u202e\x9b"
    shown = escape_controls(record.name)
    assert shown == "evil\\x1b[2J\\u202e\\x9b"


def test_a_record_is_immutable() -> None:
    record = TokenRecord(
        id="abcd1234",
        name="x",
        permissions=(R,),
        created_at=T0_S,
        expires_at=None,
        hint="ocat_…abcd",
        digest="sha256:" + "0" * 64,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "y"  # type: ignore[misc]
    assert parse_document({"version": 3, "tokens": [record.to_json()]}).tokens == (record,)


def test_no_op_changes_never_create_the_file(tmp_path: Path) -> None:
    """A gateway flushing last_used_at for a store deleted on purpose must not
    bring it back; neither must pruning or deleting nothing."""
    path = tmp_path / "opencode" / "auth-tokens.json"
    store = TokenStore(path)
    assert store.prune() == ()
    assert store.record_usage({"abcd1234": datetime(2026, 1, 1, tzinfo=UTC)}) == 0
    assert store.delete([]) == ()
    assert not path.exists()


def test_the_models_and_the_records_have_the_same_fields_in_the_same_order() -> None:
    """schema.py's models validate what records.py's plain records hold: a field in one
    and not the other would be lost, or silently defaulted, on the way from a file."""
    from core.model import records, schema

    for name in ("TokenRecord", "SessionRecord", "PairingRecord"):
        model, plain = getattr(schema, name), getattr(records, name)
        assert list(model.model_fields) == [f.name for f in dataclasses.fields(plain)], name
        optional = {n for n, f in model.model_fields.items() if not f.is_required()}
        defaulted = {
            f.name for f in dataclasses.fields(plain) if f.default is not dataclasses.MISSING
        }
        assert optional == defaulted, name
