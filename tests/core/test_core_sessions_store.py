"""Browser sessions and pairing links in the store: their secrets' format, the
records, store version 3 (older files read and written as 3), every operation on
the file engine, how they end with their token, and the file read block by block
with the sessions' tail."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.model import schema
from core.model.errors import (
    PairingInvalid,
    SessionNotFound,
    StoreCorrupt,
    TokenExpired,
    TokenNotFound,
)
from core.model.records import (
    PAIRING_LIFETIME,
    SESSION_LIFETIME,
    PairingRecord,
    SessionRecord,
    client_text,
)
from core.model.token_format import (
    PAIRING_PREFIX,
    PREFIX,
    SESSION_PREFIX,
    FormatProblem,
    check_format,
    digest,
    generate,
)
from core.store import StoreReader, TokenStore, parse_store, read_snapshot, serialize
from core.store.file.format import EMPTY_TAIL, split
from tests.core.core_helpers import T0_S, FakeClock, SeededBytes
from tests.core.test_core_properties import record_lists, times

UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130"


def session_of(store: TokenStore, ref: str = "phone", client: str | None = "192.0.2.7") -> str:
    """A new session of the token `ref`; its id (the cookie's value)."""
    return store.create_session(ref, client=client, user_agent=UA).secret.reveal()


# --- the secrets' format ---------------------------------------------------------------


@pytest.mark.parametrize("prefix", [SESSION_PREFIX, PAIRING_PREFIX])
def test_session_ids_and_pairing_codes_are_tokens_of_their_own_kind(prefix: str) -> None:
    secret = generate(SeededBytes(), prefix).reveal()
    assert secret.startswith(prefix) and len(secret) == len(prefix) + 28
    assert check_format(secret, prefix) is None
    # a secret of one kind never passes for another
    for other in {PREFIX, SESSION_PREFIX, PAIRING_PREFIX} - {prefix}:
        assert check_format(secret, other) is FormatProblem.MALFORMED
    token = generate(SeededBytes()).reveal()
    assert check_format(token, prefix) is FormatProblem.MALFORMED
    # a typo is caught by the checksum, offline
    typo = secret[:-1] + ("0" if secret[-1] != "0" else "1")
    assert check_format(typo, prefix) is FormatProblem.BAD_CHECKSUM
    assert check_format(secret[:-1], prefix) is FormatProblem.MALFORMED
    # the Secret never prints itself
    wrapped = generate(SeededBytes(), prefix)
    assert wrapped.reveal() not in repr(wrapped) and repr(wrapped).startswith(f"Secret('{prefix}")


# --- the records ---------------------------------------------------------------------------


def test_session_and_pairing_records_refuse_what_they_cannot_hold() -> None:
    good = {
        "id": "abcd1234",
        "digest": "sha256:" + "1" * 64,
        "token_id": "wxyz6789",
        "created_at": T0_S,
        "expires_at": T0_S + SESSION_LIFETIME,
        "via": "login",
    }
    assert schema.SessionRecord.model_validate(good).record().last_seen_at is None
    for bad in (
        {"via": "magic"},
        {"digest": "ocsess_plaintext"},
        {"id": "UPPER123"},
        {"user_agent": "x" * 201},
        {"client": "x" * 65},
        {"expires": T0_S},  # an unknown field, not a silent default
    ):
        with pytest.raises(ValidationError):
            schema.SessionRecord.model_validate({**good, **bad})
    pairing = {"digest": "sha256:" + "2" * 64, "token_id": "wxyz6789"}
    with pytest.raises(ValidationError):
        schema.PairingRecord.model_validate(pairing)  # times are required
    assert "digest" not in schema.SessionRecord.model_validate(good).record().public_dict()


def test_client_text_is_what_a_json_file_and_a_database_can_hold() -> None:
    assert client_text(None, 10) is None and client_text("", 10) is None
    assert client_text("a" * 300, 200) == "a" * 200
    # invalid UTF-8 as a server decodes it (lone surrogates) and NUL: U+FFFD
    assert client_text("UA\udcff\x00\ud800é", 200) == "UA\ufffd\ufffd\ufffdé"
    assert client_text("tab\there", 20) == "tab\there"  # escaped when shown, kept as sent


# --- version 3: older files read, written as 3 -----------------------------------------


def _v2_file(path: Path) -> bytes:
    doc = {
        "version": 2,
        "tokens": [
            {
                "id": "abcdefgh",
                "name": "old",
                "permissions": ["read"],
                "created_at": "2026-01-01T00:00:00Z",
                "expires_at": None,
                "last_used_at": "2026-01-02T00:00:00Z",
                "hint": "ocat_…abcd",
                "digest": "sha256:" + "0" * 64,
                "legacy": False,
                "note": "kept",
                "directories": ["/srv/app"],
            }
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(doc, indent=2).encode()
    path.write_bytes(raw)
    os.chmod(path, 0o600)
    return raw


def test_a_version_2_file_is_read_as_it_is_and_written_as_3_on_the_next_change(
    store: TokenStore,
) -> None:
    raw = _v2_file(store.path)
    (old,) = store.tokens()
    assert old.last_used_from is None and store.sessions() == ()
    store.prune()  # nothing to prune: nothing written
    assert store.path.read_bytes() == raw
    session_of(store, "old")
    doc = json.loads(store.path.read_bytes())
    assert doc["version"] == 3
    assert doc["tokens"][0]["note"] == "kept" and doc["tokens"][0]["last_used_from"] is None
    assert [s["token_id"] for s in doc["sessions"]] == ["abcdefgh"]
    assert store.path.read_bytes() == serialize(store.tokens(), store.sessions())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda doc: doc.update(sessions=[]), "sessions needs store version 3"),
        (lambda doc: doc.update(pairings=[]), "pairings needs store version 3"),
        (
            lambda doc: doc["tokens"][0].update(last_used_from="192.0.2.1"),
            "last_used_from needs store version 3",
        ),
    ],
)
def test_an_older_file_cannot_hold_what_version_3_added(
    store: TokenStore, edit: object, message: str
) -> None:
    _v2_file(store.path)
    doc = json.loads(store.path.read_bytes())
    edit(doc)  # type: ignore[operator]
    raw = json.dumps(doc).encode()
    store.path.write_bytes(raw)
    with pytest.raises(StoreCorrupt, match=message):
        store.tokens()
    assert store.path.read_bytes() == raw


def test_a_version_3_file_breaking_a_session_rule_is_corrupt(store: TokenStore) -> None:
    store.create(name="phone")
    session_of(store)
    doc = json.loads(store.path.read_bytes())
    doc["sessions"].append(dict(doc["sessions"][0]))  # the same id twice
    store.path.write_text(json.dumps(doc))
    with pytest.raises(StoreCorrupt, match="two sessions share an id"):
        TokenStore(store.path).tokens()
    doc["sessions"][1] = {**doc["sessions"][0], "via": "telepathy"}
    store.path.write_text(json.dumps(doc))
    with pytest.raises(StoreCorrupt, match="sessions"):
        TokenStore(store.path).tokens()


def test_a_session_whose_token_was_removed_by_hand_is_no_session(
    store: TokenStore, clock: FakeClock
) -> None:
    store.create(name="keep")
    store.create(name="phone")
    session_of(store, "keep")
    session_of(store, "phone")
    doc = json.loads(store.path.read_bytes())
    doc["tokens"] = [t for t in doc["tokens"] if t["name"] != "phone"]
    store.path.write_text(json.dumps(doc))
    fresh = TokenStore(store.path, clock=clock)
    keep = fresh.get("keep")
    assert [s.token_id for s in fresh.sessions()] == [keep.id]
    fresh.create(name="next")  # and the next change drops it from the file
    assert [s["token_id"] for s in json.loads(store.path.read_bytes())["sessions"]] == [keep.id]


# --- sessions: create, list, end, last seen --------------------------------------------


def test_a_session_is_stored_as_a_digest_with_who_and_until_when(
    store: TokenStore, clock: FakeClock
) -> None:
    token = store.create(name="phone", expires="never").record
    issued = store.create_session("phone", client="192.0.2.7", user_agent=UA)
    record = issued.record
    assert record.token_id == token.id and record.via == "login"
    assert record.created_at == T0_S and record.last_seen_at is None
    assert record.expires_at == T0_S + SESSION_LIFETIME  # a never-expiring token: 30 days
    assert (record.client, record.user_agent) == ("192.0.2.7", UA)
    assert record.digest == digest(issued.secret.reveal())
    assert issued.max_age(T0_S) == int(SESSION_LIFETIME.total_seconds())
    raw = store.path.read_text()
    secret = issued.secret.reveal()
    assert secret not in raw and secret[7:29] not in raw  # no secret on disk
    assert store.sessions() == (record,)
    assert read_snapshot(store.path).sessions == (record,)


def test_a_session_never_outlives_its_token(store: TokenStore) -> None:
    short = store.create(name="short", expires="12h").record
    session = store.create_session("short", client=None, user_agent=None).record
    assert short.expires_at is not None and session.expires_at == short.expires_at
    assert session.client is None and session.user_agent is None


def test_no_session_for_a_missing_or_expired_token(store: TokenStore, clock: FakeClock) -> None:
    store.create(name="short", expires="1h")
    with pytest.raises(TokenNotFound):
        store.create_session("nope", client=None, user_agent=None)
    clock.advance(hours=2)
    before = store.path.read_bytes()
    with pytest.raises(TokenExpired, match="has expired"):
        store.create_session("short", client=None, user_agent=None)
    with pytest.raises(TokenExpired):
        store.create_pairing("short")
    assert store.path.read_bytes() == before


def test_ending_sessions_is_all_or_nothing(store: TokenStore) -> None:
    store.create(name="phone")
    store.create(name="laptop")
    a = store.create_session("phone", client=None, user_agent=None).record
    b = store.create_session("phone", client=None, user_agent=None).record
    c = store.create_session("laptop", client=None, user_agent=None).record
    before = store.path.read_bytes()
    with pytest.raises(SessionNotFound, match="no session with id 'zzzzzzzz'"):
        store.end_sessions([a.id, "zzzzzzzz"])
    assert store.path.read_bytes() == before
    with pytest.raises(TypeError):
        store.end_sessions(a.id)
    assert store.end_sessions([a.id, f" {a.id} "]) == (a,)
    assert store.sessions() == (b, c)
    assert store.end_sessions_of("phone") == (b,)
    assert store.sessions() == (c,)
    assert store.end_sessions_of("phone") == ()  # none left: nothing written
    with pytest.raises(TokenNotFound):
        store.end_sessions_of("nope")


def test_a_pasted_session_secret_is_not_echoed(store: TokenStore) -> None:
    store.create(name="phone")
    secret = session_of(store)
    with pytest.raises(SessionNotFound) as raised:
        store.end_sessions([secret])
    assert secret not in str(raised.value) and "looks like a secret" in str(raised.value)


def test_logout_also_ends_the_tokens_pairing_links(store: TokenStore) -> None:
    store.create(name="phone")
    code = store.create_pairing("phone").code.reveal()
    session_of(store)
    store.end_sessions_of("phone")
    assert store.load().pairings == ()
    assert store.pairing_state(code).state == "unknown"


def test_last_seen_is_recorded_in_batches(store: TokenStore, clock: FakeClock) -> None:
    store.create(name="phone")
    a = store.create_session("phone", client="192.0.2.1", user_agent=UA).record
    b = store.create_session("phone", client="192.0.2.2", user_agent=UA).record
    later = clock.advance(minutes=5)
    assert (
        store.record_session_seen({a.id: (later, "198.51.100.9"), "gone1234": (later, None)}) == 1
    )
    assert store.record_session_seen({a.id: (later - timedelta(minutes=1), None)}) == 0  # older
    assert store.record_session_seen({b.id: (later, None)}) == 1  # no address: the old one stays
    seen = {s.id: s for s in store.sessions()}
    assert seen[a.id].last_seen_at == later.replace(microsecond=0)
    assert seen[a.id].client == "198.51.100.9" and seen[b.id].client == "192.0.2.2"
    store.path.unlink()
    assert store.record_session_seen({a.id: (later, None)}) == 0
    assert not store.path.exists()  # not created again just for that


def test_last_used_records_where_from(store: TokenStore, clock: FakeClock) -> None:
    a = store.create(name="a").record
    b = store.create(name="b").record
    when = clock.advance(minutes=1)
    assert store.record_usage({a.id: (when, "2001:db8::7"), b.id: when}) == 2
    assert store.get("a").last_used_from == "2001:db8::7"
    assert store.get("b").last_used_from is None  # a bare time: from where is not known
    store.record_usage({a.id: (clock.advance(minutes=1), "x" * 100)})
    assert store.get("a").last_used_from == "x" * 64  # cut to what the file keeps
    store.rotate("a")
    rotated = store.get("a")
    assert rotated.last_used_at is None and rotated.last_used_from is None


# --- pairing links ----------------------------------------------------------------------


def test_a_pairing_link_works_once_within_five_minutes(store: TokenStore, clock: FakeClock) -> None:
    token = store.create(name="phone").record
    issued = store.create_pairing("phone")
    code = issued.code.reveal()
    assert issued.record.expires_at == T0_S + PAIRING_LIFETIME
    assert code not in store.path.read_text() and issued.record.digest == digest(code)
    for _ in range(3):  # looking consumes nothing
        status = store.pairing_state(code)
        assert (status.state, status.token_id, status.token_name) == ("valid", token.id, "phone")
    session = store.consume_pairing(code, client="192.0.2.9", user_agent=UA)
    assert session.record.via == "pairing" and session.record.token_id == token.id
    assert session.record.client == "192.0.2.9"
    assert store.load().pairings == ()
    before = store.path.read_bytes()
    with pytest.raises(PairingInvalid) as again:
        store.consume_pairing(code, client=None, user_agent=None)
    assert again.value.reason == "unknown" and store.path.read_bytes() == before
    assert store.pairing_state(code).state == "unknown"


def test_an_expired_pairing_link_grants_nothing(store: TokenStore, clock: FakeClock) -> None:
    store.create(name="phone")
    code = store.create_pairing("phone").code.reveal()
    clock.advance(minutes=5, seconds=1)
    assert store.pairing_state(code).state == "expired"
    before = store.path.read_bytes()
    with pytest.raises(PairingInvalid) as raised:
        store.consume_pairing(code, client=None, user_agent=None)
    assert raised.value.reason == "expired" and "expired" in str(raised.value)
    assert store.path.read_bytes() == before and store.sessions() == ()


def test_a_pairing_link_ends_with_its_token(store: TokenStore, clock: FakeClock) -> None:
    store.create(name="phone")
    code = store.create_pairing("phone").code.reveal()
    store.delete(["phone"])
    assert store.pairing_state(code).state == "unknown"  # gone with the token
    with pytest.raises(PairingInvalid):
        store.consume_pairing(code, client=None, user_agent=None)
    assert store.sessions() == ()


def test_a_pairing_link_outliving_its_token_is_orphaned(
    store: TokenStore, clock: FakeClock, token_bytes: SeededBytes
) -> None:
    """A link is never valid past its token's expiry (it is made to end then too);
    one found so by hand reads `orphaned` and grants nothing."""
    store.create(name="soon", expires="1h")
    clock.advance(minutes=58)
    pairing = store.create_pairing("soon")
    assert pairing.record.expires_at == store.get("soon").expires_at  # not 5 minutes on
    store.create(name="other")
    late = PairingRecord(
        digest=digest(code := generate(token_bytes, PAIRING_PREFIX).reveal()),
        token_id=store.get("soon").id,
        created_at=T0_S,
        expires_at=T0_S + timedelta(days=1),
    )
    data = serialize(store.tokens(), (), (late,))
    store.path.write_bytes(data)
    clock.advance(minutes=3)  # the token has expired; the hand-made link has not
    assert store.pairing_state(code).state == "orphaned"
    with pytest.raises(PairingInvalid) as raised:
        store.consume_pairing(code, client=None, user_agent=None)
    assert raised.value.reason == "orphaned"


@pytest.mark.parametrize(
    "code", ["", "ocpair_", "ocat_" + "0" * 28, "ocpair_" + "0" * 28, "x" * 5000]
)
def test_a_malformed_pairing_code_is_unknown_without_a_lookup(store: TokenStore, code: str) -> None:
    assert store.pairing_state(code).state == "unknown"
    with pytest.raises(PairingInvalid):
        store.consume_pairing(code, client=None, user_agent=None)
    assert not store.path.exists()


# --- ending with the token --------------------------------------------------------------


def _with_sessions(store: TokenStore) -> None:
    store.create(name="phone", permissions="read,write", expires="30d")
    store.create(name="other")
    session_of(store, "phone")
    session_of(store, "phone")
    session_of(store, "other")
    store.create_pairing("phone")
    store.create_pairing("other")


def _token_ids(store: TokenStore) -> tuple[list[str], list[str]]:
    snapshot = read_snapshot(store.path)
    names = {r.id: r.name for r in snapshot.records}
    return (
        sorted(names[s.token_id] for s in snapshot.sessions),
        sorted(names[p.token_id] for p in snapshot.pairings),
    )


@pytest.mark.parametrize(
    "end",
    [
        lambda s: s.delete(["phone"]),
        lambda s: s.rotate("phone"),
        lambda s: s.edit("phone", permissions="read"),
        lambda s: s.edit("phone", directories=["/srv/app"]),
        lambda s: s.edit("phone", expires="7d"),
    ],
    ids=["delete", "rotate", "permissions", "directories", "expiry"],
)
def test_a_security_relevant_change_ends_the_tokens_sessions_and_links(
    store: TokenStore, end: object
) -> None:
    _with_sessions(store)
    end(store)  # type: ignore[operator]
    assert _token_ids(store) == (["other"], ["other"])


@pytest.mark.parametrize(
    "keep",
    [
        lambda s: s.edit("phone", name="my phone"),
        lambda s: s.edit("phone", note="the blue one"),
        lambda s: s.edit("phone", permissions="read,write"),  # the same: nothing changes
        lambda s: s.record_usage({s.get("phone").id: s.now()}),
        lambda s: s.create(name="third"),
        lambda s: s.delete(["other"]),
    ],
    ids=["rename", "note", "same-permissions", "usage", "create", "another-token"],
)
def test_other_changes_keep_the_tokens_sessions(store: TokenStore, keep: object) -> None:
    _with_sessions(store)
    phone = store.get("phone").id
    before = [s for s in store.sessions() if s.token_id == phone]
    keep(store)  # type: ignore[operator]
    assert [s for s in store.sessions() if s.token_id == phone] == before
    assert [p.token_id for p in store.load().pairings].count(phone) == 1


def test_edit_says_which_sessions_it_ended(store: TokenStore) -> None:
    _with_sessions(store)
    edited = store.edit("phone", permissions="read")
    assert len(edited.ended) == 2 and {s.token_id for s in edited.ended} == {edited.after.id}
    assert store.edit("other", note="n").ended == ()


def test_prune_ends_the_sessions_of_the_tokens_it_deletes(
    store: TokenStore, clock: FakeClock
) -> None:
    store.create(name="short", expires="1h")
    store.create(name="long")
    session_of(store, "short")
    session_of(store, "long")
    clock.advance(hours=2)
    assert [r.name for r in store.prune()] == ["short"]
    assert [s.token_id for s in store.sessions()] == [store.get("long").id]


def test_expired_sessions_and_links_leave_at_the_next_change(
    store: TokenStore, clock: FakeClock
) -> None:
    store.create(name="phone", expires="never")
    store.create(name="day", expires="1d")
    session_of(store, "phone")
    session_of(store, "day")
    store.create_pairing("phone")
    clock.advance(days=2)
    # still in the file (and in a snapshot) until something changes ...
    assert len(store.sessions()) == 2 and len(store.load().pairings) == 1
    before = store.path.read_bytes()
    store.prune(only=set())  # ... a change that changes nothing writes nothing ...
    assert store.path.read_bytes() == before
    store.create(name="new")  # ... and any change drops them
    assert [s.token_id for s in store.sessions()] == [store.get("phone").id]
    assert store.load().pairings == ()
    clock.advance(days=SESSION_LIFETIME.days)
    store.create(name="newer")
    assert store.sessions() == ()


# --- the file, block by block, with the tail ---------------------------------------------


def test_the_tail_holds_the_sessions_and_the_tokens_still_split(store: TokenStore) -> None:
    _with_sessions(store)
    data = store.path.read_bytes()
    found = split(data)
    assert found is not None
    blocks, tail = found
    assert len(blocks) == 2 and tail != EMPTY_TAIL
    assert tail.startswith(b'  "sessions": [\n') and tail.endswith(b"\n}\n")
    assert data == serialize(store.tokens(), store.sessions(), store.load().pairings)


def test_a_reader_follows_sessions_without_reparsing_the_tokens(
    store: TokenStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.model import schema

    for i in range(20):
        store.create(name=f"t{i}")
    reader = StoreReader(store.path, racy_window=0)
    first = reader.reload()
    assert first.delta is None
    other = TokenStore(store.path, clock=clock)
    parsed: list[bytes] = []
    real = schema.parse_block  # incremental.py imports it where it reads another's change

    def counted(block: bytes) -> object:
        parsed.append(block)
        return real(block)

    monkeypatch.setattr(schema, "parse_block", counted)
    session = other.create_session("t3", client=None, user_agent=None).record
    after = reader.reload()
    assert after.delta is not None and after.delta == ([], [])  # no token changed
    assert parsed == [] and after.sessions == (session,)  # only the tail was read
    assert after.records == first.records
    other.create(name="new")  # a token added, the tail unchanged
    again = reader.reload()
    assert again.delta is not None and [r.name for r in again.delta[1]] == ["new"]
    assert len(parsed) == 1 and again.sessions == (session,)
    other.delete(["t3"])  # a token removed with its session
    last = reader.reload()
    assert last.delta is not None and "t3" in [r.name for r in last.delta[0]]
    assert "t3" not in [r.name for r in last.records] and last.sessions == ()
    assert last.records == read_snapshot(store.path).records


def test_a_broken_tail_falls_back_to_the_whole_file(store: TokenStore) -> None:
    store.create(name="phone")
    session_of(store)
    reader = StoreReader(store.path, racy_window=0)
    reader.reload()
    data = store.path.read_bytes()
    store.path.write_bytes(data.replace(b'"via": "login"', b'"via": "carrier pigeon"'))
    with pytest.raises(StoreCorrupt, match="sessions"):
        reader.reload()


def test_writes_reuse_the_tail_and_the_blocks_they_did_not_change(store: TokenStore) -> None:
    _with_sessions(store)
    before = split(store.path.read_bytes())
    store.edit("other", note="changed")  # a rename-like edit: its sessions stay
    after = split(store.path.read_bytes())
    assert before is not None and after is not None
    assert before[1] == after[1]
    assert [a == b for a, b in zip(before[0], after[0], strict=True)] == [True, False]


# --- property: block-by-block reading equals a full parse, sessions included -------------

SESSION_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "create",
                "delete",
                "rotate",
                "narrow",
                "note",
                "usage",
                "sign-in",
                "seen",
                "end",
                "pair",
                "use-link",
                "elsewhere",
                "later",
            ]
        ),
        st.integers(0, 20),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=SESSION_OPS)
def test_incremental_reads_with_sessions_always_equal_a_full_parse(
    tmp_path: Path, ops: list[tuple[str, int]]
) -> None:
    from core.authz.authorizer import CachedAuthorizer

    folder = tmp_path / f"p{time.time_ns()}"
    clock = FakeClock()
    store = TokenStore(folder / "auth-tokens.json", clock=clock, token_bytes=SeededBytes())
    other = TokenStore(store.path, clock=clock, token_bytes=SeededBytes(seed=99))
    reader = StoreReader(store.path, racy_window=0)
    auth = CachedAuthorizer(StoreReader(store.path, racy_window=0), clock=clock)
    cookies: dict[str, str] = {}  # session digest -> the cookie's value
    codes: list[str] = []
    for op, n in ops:
        records = store.tokens()
        pick = records[n % len(records)] if records else None
        sessions = store.sessions()
        if op == "create" or pick is None:
            store.create(expires=("1h", "30d", "never")[n % 3])
        elif op == "delete":
            store.delete([pick.id])
        elif op == "rotate":
            store.rotate(pick.id)
        elif op == "narrow":
            store.edit(pick.id, permissions=("read", "read,write")[n % 2])
        elif op == "note":
            store.edit(pick.id, note=f"note {n}")
        elif op == "usage":
            store.record_usage({pick.id: (clock.now, f"10.0.0.{n}")})
        elif op in ("sign-in", "elsewhere"):
            maker = store if op == "sign-in" else other
            if not pick.is_expired(clock.now):
                issued = maker.create_session(pick.id, client=f"10.1.0.{n}", user_agent=f"UA {n}")
                cookies[issued.record.digest] = issued.secret.reveal()
        elif op == "seen" and sessions:
            store.record_session_seen({sessions[n % len(sessions)].id: (clock.now, None)})
        elif op == "end" and sessions:
            other.end_sessions([sessions[n % len(sessions)].id])
        elif op == "pair":
            if not pick.is_expired(clock.now):
                codes.append(other.create_pairing(pick.id).code.reveal())
        elif op == "use-link" and codes:
            try:
                issued = store.consume_pairing(
                    codes.pop(n % len(codes)), client=None, user_agent=None
                )
            except PairingInvalid:
                pass
            else:
                cookies[issued.record.digest] = issued.secret.reveal()
        elif op == "later":
            clock.advance(minutes=7 * (n + 1))
        full = read_snapshot(store.path)
        seen = reader.snapshot()
        assert (seen.records, seen.sessions, seen.pairings) == (
            full.records,
            full.sessions,
            full.pairings,
        )
        assert store.load().sessions == full.sessions
        assert store.path.read_bytes() == serialize(full.records, full.sessions, full.pairings)
        live = {s.digest for s in full.sessions if not s.is_expired(clock.now)}
        tokens = {r.id: r for r in full.records}
        for session_digest, cookie in cookies.items():
            decision = auth.decide(None, "GET", "/file?path=a", cookie=cookie)
            owner = next((s for s in full.sessions if s.digest == session_digest), None)
            expected = (
                session_digest in live
                and owner is not None
                and not tokens[owner.token_id].is_expired(clock.now)
            )
            assert decision.allowed == expected, (op, decision)


# --- property: version 3 documents round-trip -------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_v3_documents_serialised_are_read_back_equal(data: st.DataObject) -> None:
    records = data.draw(record_lists())
    ids = [r.id for r in records]
    sessions = []
    pairings = []
    if ids:
        count = data.draw(st.integers(0, 4))
        session_ids = data.draw(
            st.lists(
                st.from_regex(r"[0-9a-z]{8}", fullmatch=True),
                min_size=count,
                max_size=count,
                unique=True,
            )
        )
        for i, session_id in enumerate(session_ids):
            created = data.draw(times)
            sessions.append(
                SessionRecord(
                    id=session_id,
                    digest="sha256:" + f"{i + 100:064x}",
                    token_id=data.draw(st.sampled_from(ids)),
                    created_at=created,
                    expires_at=data.draw(times),
                    last_seen_at=data.draw(st.none() | times),
                    client=data.draw(st.none() | st.text(min_size=1, max_size=64)),
                    user_agent=data.draw(st.none() | st.text(min_size=1, max_size=200)),
                    via=data.draw(st.sampled_from(["login", "pairing"])),
                )
            )
        for i in range(data.draw(st.integers(0, 3))):
            pairings.append(
                PairingRecord(
                    digest="sha256:" + f"{i + 200:064x}",
                    token_id=data.draw(st.sampled_from(ids)),
                    created_at=data.draw(times),
                    expires_at=data.draw(times),
                )
            )
    raw = serialize(records, sessions, pairings)
    doc = parse_store(Path("auth-tokens.json"), raw)
    assert (doc.tokens, doc.sessions, doc.pairings) == (
        tuple(records),
        tuple(sessions),
        tuple(pairings),
    )
    found = split(raw)
    assert found is not None and len(found[0]) == len(records)


def test_the_tail_is_laid_out_as_json_and_pydantic_lay_it_out(store: TokenStore) -> None:
    """The standard library's indent=2 and pydantic's write the same tail as
    format.py, odd user agents included."""
    from core.store.file import format as layout

    store.create(name="caf\u00e9")
    store.create_session("café", client="2001:db8::1", user_agent='Mo "zi" \\ \u2603 \x1b[31m')
    store.create_session("café", client=None, user_agent=None)
    store.create_pairing("café")
    snapshot = store.load()
    fast = serialize(snapshot.records, snapshot.sessions, snapshot.pairings)
    assert fast == store.path.read_bytes()
    found = split(fast)
    assert found is not None
    assert layout.tail_of(snapshot.sessions, snapshot.pairings) == found[1]
    tail = {
        "sessions": [s.to_json() for s in snapshot.sessions],
        "pairings": [p.to_json() for p in snapshot.pairings],
    }
    assert json.dumps(tail, indent=2, ensure_ascii=False).encode()[2:] + b"\n" == found[1]
    models = schema.Tail.model_validate_json(b"{\n" + found[1], strict=True)
    assert models.model_dump_json(indent=2).encode()[2:] + b"\n" == found[1]
