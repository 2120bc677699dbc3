"""The canonical layout of the store file, and reading it again block by block:
what an incremental step gives must always equal a full, validated parse."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Reason
from core.model.errors import StoreCorrupt
from core.store import Entries, Snapshot, StoreReader, TokenStore, read_snapshot
from core.store.file.format import EMPTY, EMPTY_TAIL, join, serialize, split, tokens_end
from core.store.file.incremental import Loaded
from tests.core.core_helpers import FakeClock, SeededBytes


def test_the_layout_splits_into_one_block_per_token(store: TokenStore) -> None:
    for i in range(3):
        store.create(name=f"t{i}", note='quote " and \\n', directories=["/srv/a"])
    data = store.path.read_bytes()
    found = split(data)
    assert found is not None
    blocks, tail = found
    assert len(blocks) == 3 and tail == EMPTY_TAIL
    assert join(blocks) == data
    assert serialize(store.tokens()) == data
    assert split(EMPTY) == ([], EMPTY_TAIL) and join([]) == EMPTY


@pytest.mark.parametrize(
    "data",
    [
        b'{"version": 3, "tokens": [], "sessions": [], "pairings": []}',  # compact: by hand
        b'{\n  "version": 1,\n  "tokens": []\n}\n',
        b'{\n  "version": 2,\n  "tokens": []\n}\n',
        b'{\n  "version": 3,\n  "tokens": []\n}\n',  # no tail
        b"",
    ],
)
def test_other_layouts_are_not_split(data: bytes) -> None:
    assert split(data) is None


def test_a_changed_block_is_parsed_alone(store: TokenStore) -> None:
    for i in range(5):
        store.create(name=f"t{i}")
    reader = StoreReader(store.path)
    first = reader.reload()
    assert first.delta is None  # the first read is a full one
    store.rotate("t2")
    store.delete(["t4"])
    store.create(name="new")
    after = reader.reload()
    assert after.delta is not None
    removed, added = after.delta
    assert {r.name for r in removed} == {"t2", "t3", "t4"} or {r.name for r in removed} >= {
        "t2",
        "t4",
    }
    assert {r.name for r in added} >= {"t2", "new"}
    assert after.records == read_snapshot(store.path).records
    assert after.based_on == first.version


def test_a_block_that_breaks_a_rule_falls_back_to_the_whole_file(store: TokenStore) -> None:
    store.create(name="a")
    store.create(name="b")
    reader = StoreReader(store.path)
    reader.reload()
    data = store.path.read_bytes()
    store.path.write_bytes(data.replace(b'"name": "b"', b'"name": "a"'))  # a duplicate name
    with pytest.raises(StoreCorrupt, match="share the name"):
        reader.reload()
    store.path.write_bytes(data.replace(b'"permissions": [', b'"permissions": 7, "x": ['))
    with pytest.raises(StoreCorrupt):
        reader.reload()


def test_loaded_after_refuses_what_it_cannot_do_block_by_block(store: TokenStore) -> None:
    store.create(name="a")
    found = split(store.path.read_bytes())
    assert found is not None
    loaded = Loaded(list(store.tokens()), found[0], tail=found[1])
    assert loaded.after(b"not json") is None
    assert loaded.after(store.path.read_bytes().replace(b'"legacy": false', b'"legacy": 1')) is None
    same = loaded.after(store.path.read_bytes())
    assert same is not None and same[1] == [] and same[2] == []


def test_writes_change_only_the_changed_blocks(store: TokenStore) -> None:
    for i in range(4):
        store.create(name=f"t{i}")
    before = split(store.path.read_bytes())
    store.edit("t1", note="changed")
    after = split(store.path.read_bytes())
    assert before is not None and after is not None
    assert [a == b for a, b in zip(before[0], after[0], strict=True)] == [True, False, True, True]
    assert store.last_written is not None
    removed, added = store.last_written.delta  # type: ignore[misc]
    assert [r.name for r in removed] == ["t1"] and [r.note for r in added] == ["changed"]


def test_a_hand_written_file_is_written_back_in_the_canonical_layout(
    store: TokenStore,
) -> None:
    store.create(name="a")
    compact = json.dumps(json.loads(store.path.read_bytes())).encode()
    store.path.write_bytes(compact)
    assert split(compact) is None
    store.create(name="b")
    assert split(store.path.read_bytes()) is not None
    assert serialize(store.tokens()) == store.path.read_bytes()


OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "delete", "rotate", "edit", "usage", "external"]),
        st.integers(0, 20),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_incremental_reads_always_equal_a_full_parse(tmp_path: Path, ops: list) -> None:  # type: ignore[type-arg]
    folder = tmp_path / f"p{time.time_ns()}"
    clock = FakeClock()
    store = TokenStore(folder / "auth-tokens.json", clock=clock, token_bytes=SeededBytes())
    other = TokenStore(store.path, clock=clock, token_bytes=SeededBytes(seed=99))
    reader = StoreReader(store.path, racy_window=0)
    auth = CachedAuthorizer(StoreReader(store.path, racy_window=0), clock=clock)
    secrets: dict[str, str] = {}
    for op, n in ops:
        records = store.tokens()
        pick = records[n % len(records)] if records else None
        if op == "create" or pick is None:
            issued = store.create()
            secrets[issued.record.id] = issued.secret.reveal()
        elif op == "delete":
            store.delete([pick.id])
            secrets.pop(pick.id, None)
        elif op == "rotate":
            issued = store.rotate(pick.id)
            secrets[pick.id] = issued.secret.reveal()
        elif op == "edit":
            store.edit(
                pick.id, note=f"note {n}", permissions=",".join(["read", "execute"][: 1 + n % 2])
            )
        elif op == "usage":
            store.record_usage({pick.id: clock.advance(minutes=n + 1)})
        else:  # another process writes: this store's reader must see it
            issued = other.create()
            secrets[issued.record.id] = issued.secret.reveal()
        full = read_snapshot(store.path).records
        assert reader.snapshot().records == full
        assert store.tokens() == full
        assert store.path.read_bytes() == serialize(full)
        index = auth.index()
        assert len(index) == len(full)
        for token_id, secret in secrets.items():
            decision = auth.decide(f"Bearer {secret}", "GET", "/path")
            assert decision.token_id == token_id and decision.reason is not Reason.UNKNOWN_TOKEN


# Blocks made of a few similar lines, so that old and new files share long runs of
# bytes across block boundaries - where finding the changed blocks is subtle.
LINES = st.sampled_from([b'"a": 1', b'"a": 2', b'"b": []', b'"id": "x"', b"  "])
BLOCK = st.lists(LINES, min_size=1, max_size=3).map(b",\n".join)
BLOCKS = st.lists(BLOCK, max_size=8)


# Tails as the sessions and pairings lists make them: empty, or holding lines that
# look like the blocks' own (the tail must never be taken for tokens).
TAILS = st.sampled_from(
    [
        EMPTY_TAIL,
        b'  "sessions": [\n    {\n      "a": 1\n    }\n  ],\n  "pairings": []\n}\n',
        b'  "sessions": [\n    {\n      "a": 1\n    },\n    {\n      "a": 2\n    }\n  ],\n'
        b'  "pairings": [\n    {\n      "b": []\n    }\n  ]\n}\n',
    ]
)


@settings(max_examples=3000, deadline=None)
@given(old=BLOCKS, new=BLOCKS, old_tail=TAILS, new_tail=TAILS)
def test_the_changed_blocks_are_found_between_any_two_files(
    old: list[bytes], new: list[bytes], old_tail: bytes, new_tail: bytes
) -> None:
    from core.store.file.incremental import _changed_blocks, _starts_after

    old_data, new_data = join(old, old_tail), join(new, new_tail)
    old_end, new_end = tokens_end(old_data), tokens_end(new_data)
    assert old_end is not None and new_end is not None
    assert old_data[old_end:] == old_tail and new_data[new_end:] == new_tail
    loaded = Loaded([], list(old))
    found = _changed_blocks(old, old_data, loaded.starts(), new_data, old_end, new_end)
    if found is None:  # allowed only where the change cannot sit between whole blocks
        assert old == [] or new == []
        return
    start, end_old, middle, _ = found
    assert 0 <= start <= end_old <= len(old)
    assert [*old[:start], *middle, *old[end_old:]] == new
    shift = new_end - old_end
    assert _starts_after(loaded.starts(), found, shift) == Loaded([], list(new)).starts()


def test_one_read_per_change_not_one_per_decision(store: TokenStore, clock: FakeClock) -> None:
    auth = CachedAuthorizer(StoreReader(store.path, racy_window=0.02), clock=clock)
    token = store.create(name="a").secret.reveal()
    for i in range(10):
        store.create(name=f"n{i}")
        for _ in range(20):
            assert auth.decide(f"Bearer {token}", "GET", "/path").allowed
            time.sleep(0.002)  # the racy window passes within these decisions
    # one reload per change (the first read finds "a" and "n0" together); a
    # version read in its racy window is read once more, found unchanged, and
    # that is no reload
    assert auth.reloads == 10
    assert 1 <= auth.verifications <= 10
    assert len(auth.index()) == 11


def test_a_usage_write_is_read_once_not_on_every_decision_after(
    store: TokenStore, clock: FakeClock
) -> None:
    """The gateway's own usage write is taken without reading the file, and when
    it was racy the file is read once more after the window - then held. (The
    rewrite was once taken again on every recheck, its time keeping it racy for
    good: every decision after the first use sent a read to a worker thread.)"""
    auth = CachedAuthorizer(store.new_reader(), clock=clock)
    issued = store.create(name="a")
    token = issued.secret.reveal()
    assert auth.decide(f"Bearer {token}", "GET", "/path").allowed
    store.record_usage({issued.record.id: (clock(), "192.0.2.1")})
    for _ in range(3):
        assert auth.decide(f"Bearer {token}", "GET", "/path").allowed
    time.sleep(1.1)  # past any racy window (a whole-second file system's too)
    assert auth.decide(f"Bearer {token}", "GET", "/path").allowed
    verified = auth.verifications
    for _ in range(50):
        assert auth.decide(f"Bearer {token}", "GET", "/path").allowed
    assert auth.verifications == verified  # held: not read again
    assert auth.reloads + auth.verifications <= 3


def test_a_broken_file_is_read_once_per_change(store: TokenStore, clock: FakeClock) -> None:
    auth = CachedAuthorizer(StoreReader(store.path, racy_window=0), clock=clock)
    store.create(name="a")
    store.path.write_text("{ broken")
    for _ in range(5):
        with pytest.raises(StoreCorrupt):
            auth.decide(None, "GET", "/path")
    assert auth.reloads == 0  # none succeeded; and the broken version was parsed once
    reads = []
    original = auth._reader.reload

    def counting() -> Snapshot[Hashable] | Entries:
        reads.append(1)
        return original()

    auth._reader.reload = counting  # type: ignore[method-assign]
    for _ in range(5):
        with pytest.raises(StoreCorrupt):
            auth.decide(None, "GET", "/path")
    assert reads == []  # the same broken version: not read again


def test_a_stores_readers_never_read_back_what_it_wrote(
    store: TokenStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway's authorizer and its usage writer share one store object: the
    authorizer takes the store's own writes from the records written (no read,
    no parse); another process's change is read once, and only its blocks are
    parsed."""
    from core.store.file import fast_parse, index_reader, reading

    issued = store.create(name="a")
    bearer = f"Bearer {issued.secret.reveal()}"
    auth = CachedAuthorizer(store.new_reader(), clock=clock)
    reads: list[object] = []
    parsed: list[bytes] = []
    real_read, real_parse = reading.read_file, fast_parse.block_entry

    def counted_read(path: Path) -> Any:
        reads.append(path)
        return real_read(path)

    def counted_parse(block: bytes, times: Any) -> Any:
        parsed.append(block)
        return real_parse(block, times)

    monkeypatch.setattr(index_reader, "read_file", counted_read)
    monkeypatch.setattr(index_reader, "block_entry", counted_parse)
    assert auth.decide(bearer, "GET", "/path").allowed
    assert reads == []  # the store's own create, taken as it was written
    store.record_usage({issued.record.id: clock.now})
    assert auth.decide(bearer, "GET", "/path").allowed
    assert reads == [] and parsed == []  # its usage write: not read back
    assert auth.index().lookup(issued.secret.reveal()) is not None
    # another process's change is read (once), and only its token parsed
    TokenStore(store.path, clock=clock).create(name="b")
    assert auth.decide(bearer, "GET", "/path").allowed
    assert len(reads) == 1 and len(auth.index()) == 2
    assert len(parsed) == 1 and b'"name": "b"' in parsed[0]
    store.record_usage({issued.record.id: clock.advance(minutes=5)})
    assert auth.decide(bearer, "GET", "/path").allowed and len(reads) == 1


def test_the_layout_is_jsons_and_pydantics_and_the_one_split_expects(
    store: TokenStore, clock: FakeClock
) -> None:
    """The file's layout is the standard library's indent=2 (`ensure_ascii=False`),
    written by hand line by line (format.py): the same bytes as `json.dumps` and
    as pydantic's `model_dump_json(indent=2)` of the models, for records of every
    kind of value, and they split into one block per token."""
    from core.model import schema
    from core.store.file import format as layout

    store.create(name="caf\u00e9 \u2603", note='a "quoted" note \\ here')
    store.create(name="plain", permissions="read", expires="1h", directories=["/srv/a", "/b"])
    store.create_session("plain", client="192.0.2.1", user_agent='UA \u00e9 "q" \\ \x1b')
    store.create_pairing("plain")
    store.record_usage({store.load().require("plain").id: (clock.now, "2001:db8::1")})
    loaded = store.load()
    odd = dataclasses.replace(  # what a hand edit can hold and the store never makes
        loaded.records[0],
        id="odd00000",
        name="n \x01 \x7f \u2028 \ufeff \U0001f600 \x85",
        digest="sha256:" + "0" * 64,
    )
    records, sessions, pairings = [*loaded.records, odd], loaded.sessions, loaded.pairings
    assert serialize(loaded.records, sessions, pairings) == store.path.read_bytes()
    written = serialize(records, sessions, pairings)
    whole = {
        "version": 3,
        "tokens": [r.to_json() for r in records],
        "sessions": [s.to_json() for s in sessions],
        "pairings": [p.to_json() for p in pairings],
    }
    assert written == json.dumps(whole, indent=2, ensure_ascii=False).encode() + b"\n"
    models = schema.StoreDocument.model_validate_json(written, strict=True)
    assert written == models.model_dump_json(indent=2).encode() + b"\n"
    assert layout.serialize([], (), ()) == layout.EMPTY
    assert json.dumps({**whole, "tokens": []}, indent=2, ensure_ascii=False).encode() + b"\n" == (
        layout.join([], layout.tail_of(sessions, pairings))
    )
    found = split(written)
    assert found is not None
    assert [layout.block_of(r) for r in records] == found[0]


def test_a_servers_start_check_is_the_read_its_authorizer_starts_from(
    store: TokenStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`startup_check` validates the file as `load` does; the first authorizer of
    the file takes that read (one read at start, not two) - unless the file
    changed in between, when it reads the new version."""
    from core.store.file import index_reader, reading

    issued = store.create(name="a")
    store.create(name="b", permissions="read")
    reads: list[object] = []
    real = reading.read_file

    def counted(path: Path) -> Any:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(index_reader, "read_file", counted)
    time.sleep(0.06)  # past the racy window of the last write
    assert TokenStore(store.path).startup_check() == (True, 2, ())
    assert len(reads) == 1
    auth = CachedAuthorizer(TokenStore(store.path).new_reader(), clock=clock)
    assert auth.decide(f"Bearer {issued.secret.reveal()}", "GET", "/path").allowed
    assert len(reads) == 1 and len(auth.index()) == 2  # taken over, not read again
    # a change between the check and the first decision: read, and it applies
    TokenStore(store.path).startup_check()
    TokenStore(store.path, clock=clock).delete(["a"])
    auth = CachedAuthorizer(TokenStore(store.path).new_reader(), clock=clock)
    assert auth.decide(f"Bearer {issued.secret.reveal()}", "GET", "/path").status == 401
    assert len(auth.index()) == 1
    # a broken file: the check says why, as `load` does
    store.path.write_text("{ broken")
    with pytest.raises(StoreCorrupt) as checked:
        TokenStore(store.path).startup_check()
    with pytest.raises(StoreCorrupt) as loaded:
        TokenStore(store.path).load()
    assert str(checked.value) == str(loaded.value)


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none()
    ),
    minutes=st.integers(-1439, 1439),
)
def test_a_time_is_written_as_pydantic_writes_it(when: datetime, minutes: int) -> None:
    """`json_time` (what the file holds) is pydantic's JSON for the same time, in UTC
    (`Z`) and at any whole-minute offset, with and without a fraction."""
    from pydantic import AwareDatetime, TypeAdapter

    from core.model.records import json_time

    adapter = TypeAdapter(AwareDatetime)
    for tz in (UTC, timezone(timedelta(minutes=minutes))):
        aware = when.replace(tzinfo=tz)
        assert json_time(aware) == adapter.dump_python(aware, mode="json")
        assert adapter.validate_json(f'"{json_time(aware)}"') == aware
