"""The fast parse (core/store/file/fast_parse.py) against the models: on every
file - valid, broken field by field, broken byte by byte, and random - the fast
path either gives exactly the models' entries or declines, and the reader an
authorizer uses (EntryReader) accepts and refuses exactly what `parse_store`
does, with the same error. And that reader, followed through a long run of
changes, holds what a reader of full records holds."""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.authz.authorizer import CachedAuthorizer
from core.model.errors import AuthTuiError, StoreError
from core.model.permissions import Permission
from core.model.records import TokenRecord, check_records
from core.model.schema import parse_block
from core.store import StoreReader, TokenStore
from core.store.entries import TokenEntry, entry_of
from core.store.file.fast_parse import block_entry, fast_entries
from core.store.file.format import split, tokens_end
from core.store.file.index_reader import EntryReader, _blocks_of
from core.store.file.reading import parse_store
from tests.core.core_helpers import FakeClock

TIMES = [
    "2025-10-07T12:00:00Z",
    "2025-10-07T12:00:00",
    "2025-10-07T12:00:00+02:00",
    "2025-10-07T12:00:00-00:00",
    "2025-10-07T12:00:00+23:59",
    "2025-10-07T12:00:00+24:00",
    "2025-10-07T12:00:00.5Z",
    "2025-10-07T12:00:00.123456Z",
    "2025-10-07T12:00:00.1234567Z",
    "2025-10-07 12:00:00Z",
    "2025-10-07t12:00:00z",
    "2025-13-07T12:00:00Z",
    "2025-02-30T12:00:00Z",
    "2025-10-07T24:00:00Z",
    "2025-10-07T12:00:60Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2025-10-07T12:00Z",
    "2025-10-07T12:00:00+0200",
    "2025-10-07T12:00:00.Z",
    "\uff12025-10-07T12:00:00Z",
    "",
    1700000000,
    1.5,
    True,
    ["2025-10-07T12:00:00Z"],
]
DELETE = object()
FIELD_VALUES: dict[str, list[Any]] = {
    "id": ["abcd1234", "ABCD1234", "abcd123", "abcd12345", "abcd1234\n", "abcd-234", 1234, None],
    "name": ["", " ", "x", "\u00e9\u2603", "a" * 1000, 1, None, ["a"]],
    "permissions": [
        [],
        ["read"],
        ["write", "read"],
        ["read", "read"],
        ["READ"],
        "read",
        [1],
        [["read"]],
        ["read", None],
        ["execute", "write", "read"],
        ["read", "write", "execute"],
        ["admin"],
        {"read": True},
    ],
    "created_at": [*TIMES, None],
    "expires_at": [*TIMES, None, DELETE],
    "last_used_at": [*TIMES, None, DELETE],
    "last_used_from": [None, "", "x" * 64, "x" * 65, "2001:db8::1", 5, DELETE],
    "hint": ["", "x", "x" * 64, "x" * 65, None, 5, DELETE],
    "digest": [
        "sha256:" + "a" * 64,
        "sha256:" + "A" * 64,
        "sha256:" + "0" * 63,
        "SHA256:" + "0" * 64,
        "sha256:" + "0" * 64 + "\n",
        None,
        DELETE,
    ],
    "legacy": [True, False, 1, 0, "true", None, DELETE],
    "note": [None, "", "x", "x" * 200, "x" * 201, 5, DELETE],
    "directories": [
        [],
        ["/srv/a"],
        ["/srv/a/"],
        ["srv"],
        ["/srv//a"],
        ["/srv/../a"],
        ["/srv/a", "/srv/a"],
        ["/srv/a", "/srv/b"],
        ["/"],
        "/srv/a",
        [1],
        None,
        ["/srv/\x00"],
        {},
        DELETE,
    ],
    "expires": [None],  # a field the model does not have
}


@pytest.fixture
def base(store: TokenStore, clock: FakeClock) -> dict[str, Any]:
    """A version 3 file with every kind of field, sessions and a pairing."""
    store.create(name="plain")
    store.create(
        name="caf\u00e9 \u2603",
        permissions="read,write",
        expires="30d",
        note='a "note"',
        directories=["/srv/a", "/srv/b"],
    )
    store.create(name="reader", permissions="read", expires="1h")
    store.create_session("plain", client="192.0.2.1", user_agent="UA \u00e9")
    store.create_pairing("reader")
    store.record_usage({store.load().require("plain").id: (clock.now, "2001:db8::1")})
    return dict(json.loads(store.path.read_bytes()))


def _exact(path: Path, data: bytes) -> tuple[list[TokenEntry], tuple[Any, ...]] | StoreError:
    try:
        doc = parse_store(path, data)
    except StoreError as exc:
        return exc
    return [entry_of(r) for r in doc.tokens], doc.sessions


def _same(a: list[TokenEntry], b: list[TokenEntry]) -> bool:
    return len(a) == len(b) and all(x.same(y) for x, y in zip(a, b, strict=True))


def _refusal(read: Any) -> Any:
    """What `read()` returns, or the StoreError it raises."""
    try:
        return read()
    except StoreError as exc:
        return exc


def check(path: Path, data: bytes) -> str:
    """Asserts the fast paths agree with the models on `data`; says which path took it."""
    exact = _exact(path, data)
    fast = fast_entries(data)
    if fast is not None:
        assert not isinstance(exact, StoreError), (
            f"fast path accepted what the models refuse: {exact}"
        )
        assert _same(fast[0], exact[0]) and fast[1] == exact[1]
    layout = split(data)
    end = tokens_end(data)
    if layout is not None and end is not None:  # the reader's split: the same blocks
        assert _blocks_of(data, end) == layout[0]
    for block in layout[0] if layout else []:
        entry = block_entry(block, {})
        if entry is not None:  # the block alone, as the models read it, with the rules
            record = parse_block(block)
            assert check_records([record], fresh=[record], unique=False) == [record]
            assert entry.same(entry_of(record))
    from tests.core.test_core_fast_records import check as check_fast_records

    check_fast_records(path, data)  # and the CLI's records (fast_records.py), the same way
    path.write_bytes(data)
    refused = _refusal(lambda: EntryReader(path).reload())
    if isinstance(refused, StoreError):
        assert isinstance(exact, StoreError), f"refused what the models accept: {refused}"
        assert type(refused) is type(exact) and str(refused) == str(exact)
        return "refused"
    got = refused
    assert not isinstance(exact, StoreError), f"accepted what the models refuse: {exact}"
    assert got.entries is not None and _same(list(got.entries), exact[0])
    assert got.sessions == exact[1]
    return "fast" if fast is not None else "models"


def variants(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document broken (or changed) one field at a time."""
    for field, values in FIELD_VALUES.items():
        for value in values:
            for at in (0, 1):
                new = copy.deepcopy(doc)
                if value is DELETE:
                    new["tokens"][at].pop(field, None)
                else:
                    new["tokens"][at][field] = value
                yield new
    tokens = doc["tokens"]
    for key, value in (
        ("version", 1),
        ("version", 2),
        ("version", 4),
        ("version", True),
        ("version", 3.0),
        ("version", "3"),
        ("version", DELETE),
        ("extra", 1),
        ("tokens", {}),
        ("tokens", None),
        ("tokens", []),
        ("tokens", [*tokens, tokens[0]]),
        ("tokens", [*tokens, {**tokens[1], "id": "zzzz0000", "digest": "sha256:" + "9" * 64}]),
        ("tokens", [*tokens, {**tokens[1], "name": "other", "digest": "sha256:" + "9" * 64}]),
        ("tokens", [*tokens, {**tokens[1], "name": "other", "id": "zzzz0000"}]),
        ("tokens", [*tokens, 5]),
        ("tokens", tokens[1:]),  # the session's token gone: the session is dropped
        ("sessions", []),
        ("sessions", None),
        ("sessions", [*doc["sessions"], doc["sessions"][0]]),
        ("sessions", [{**doc["sessions"][0], "via": "telepathy"}]),
        ("sessions", [{**doc["sessions"][0], "token_id": "zzzz0000"}]),
        ("pairings", [*doc["pairings"], doc["pairings"][0]]),
        ("pairings", [{**doc["pairings"][0], "created_at": "yesterday"}]),
        ("pairings", DELETE),
    ):
        new = copy.deepcopy(doc)
        if value is DELETE:
            new.pop(key)
        else:
            new[key] = value
        yield new
    for version in (1, 2):  # older files: fields they cannot hold
        old = copy.deepcopy(doc)
        old["version"] = version
        old.pop("sessions")
        old.pop("pairings")
        for token in old["tokens"]:
            token.pop("last_used_from", None)
            if version == 1:
                token.pop("note", None)
                token.pop("directories", None)
        yield old


def _dumps(doc: dict[str, Any], indent: int | None) -> bytes:
    return (json.dumps(doc, indent=indent, ensure_ascii=False) + "\n").encode("utf-8")


def test_every_field_broken_in_turn_is_judged_as_the_models_judge_it(
    base: dict[str, Any], store_path: Path
) -> None:
    taken: dict[str, int] = {}
    for doc in variants(base):
        for indent in (2, None):  # the canonical layout (blocks) and one line (whole)
            way = check(store_path, _dumps(doc, indent))
            taken[way] = taken.get(way, 0) + 1
    assert taken.get("fast", 0) > 50 and taken.get("refused", 0) > 50 and taken.get("models")


def test_the_files_this_program_writes_take_the_fast_path(
    store: TokenStore, base: dict[str, Any]
) -> None:
    data = store.path.read_bytes()
    assert fast_entries(data) is not None
    assert check(store.path, data) == "fast"


RAW_BREAKS = [
    lambda d: b"\xef\xbb\xbf" + d,  # a byte order mark
    lambda d: d.decode().encode("utf-16"),
    lambda d: d[: len(d) // 2],  # truncated
    lambda d: d + b"x",
    lambda d: d.replace(b'"name": "plain"', b'"name": "\\ud800"'),  # a lone surrogate
    lambda d: d.replace(b'"name": "plain"', b'"name": "\\ud83d\\ude00"'),  # a pair
    lambda d: d.replace(b'"name": "plain"', b'"name": "\\u0000"'),
    lambda d: d.replace(b'"name": "plain"', b'"name": "pl\\u0061in"'),
    lambda d: d.replace(b'"name": "plain"', b'"name": "plain",\n      "name": "other"'),
    lambda d: d.replace(b'"name": "plain"', b'"name": "x",\n      "name": "plain"'),
    lambda d: d.replace(b'"legacy": false', b'"legacy": NaN', 1),
    lambda d: d.replace(b'"note": null', b'"note": Infinity', 1),
    lambda d: d.replace(b'"version": 3', b'"version": 3, "version": 3'),
    lambda d: d.replace(b'"version": 3', b'"version": 2, "version": 3'),
    lambda d: d.replace(b'"version": 3', b'"version": 3e0'),
    lambda d: d.replace(b"\n    },\n    {\n", b"\n    },{\n", 1),  # another layout
    lambda d: d.replace(b"\n    },\n    {\n", b"\n    }, {\n", 1),
    lambda d: d.replace(b"plain", b"pl\x80in"),  # not UTF-8
    lambda d: d.replace(b"plain", b"pl\tin"),  # a raw control character in a string
    lambda d: b" \n" + d + b"\n\n ",
    lambda d: d.replace(b"[\n", b"[\n\n", 1),
]


@pytest.mark.parametrize("index", range(len(RAW_BREAKS)))
def test_files_broken_byte_by_byte_are_judged_as_the_models_judge_them(
    base: dict[str, Any], store: TokenStore, index: int
) -> None:
    data = store.path.read_bytes()
    check(store.path, RAW_BREAKS[index](data))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(field=st.sampled_from(sorted(FIELD_VALUES)), value=JSON_VALUES, at=st.integers(0, 2))
def test_random_values_in_any_field_are_judged_as_the_models_judge_them(
    base: dict[str, Any], store_path: Path, field: str, value: Any, at: int
) -> None:
    doc = copy.deepcopy(base)
    doc["tokens"][at][field] = value
    check(store_path, _dumps(doc, 2))


def _held(auth: CachedAuthorizer) -> tuple[set[tuple[Any, ...]], list[str]] | str:
    try:
        index = auth.index()
    except StoreError as exc:
        return f"{type(exc).__name__}: {exc}"
    entries = {
        (e.digest, e.id, e.permissions, e.expires, e.legacy, e.directories, e.name_key)
        for e in (index.by_id(i) for i in _ids(index))
        if e is not None
    }
    return entries, sorted(s.id for s in index.sessions)


def _ids(index: Any) -> list[str]:
    return [e.id for e in index._by_digest.values()]


def test_the_entry_reader_follows_changes_as_a_reader_of_records_does(
    store: TokenStore, clock: FakeClock
) -> None:
    """Changes of every kind - by this store, by another process, by hand, a
    broken file and its repair - each followed by both readers: they hold the
    same tokens and sessions, or refuse with the same error."""
    rng = random.Random(20)
    shared = EntryReader(store.path, racy_window=0, latest=store._latest)  # takes its writes
    entries = CachedAuthorizer(shared, clock=clock)
    records = CachedAuthorizer(StoreReader(store.path, racy_window=0), clock=clock)
    other = TokenStore(store.path, clock=clock)
    for i in range(8):
        store.create(name=f"t{i}", permissions=rng.choice(["read", "read,write", "write"]))

    def names() -> list[str]:
        return [r.name for r in other.load().records]

    def hand_edit(change: Any) -> None:
        doc = json.loads(store.path.read_bytes())
        change(doc)
        indent = rng.choice([2, None])
        store.path.write_bytes(json.dumps(doc, indent=indent).encode() + b"\n")

    steps: list[Any] = [
        lambda: store.create(name=f"n{rng.randrange(10**6)}", expires="2h"),
        lambda: other.create(name=f"o{rng.randrange(10**6)}", directories=["/srv/x"]),
        lambda: store.delete([rng.choice(names())]),
        lambda: other.rotate(rng.choice(names())),
        lambda: store.edit(rng.choice(names()), permissions="read,execute"),
        lambda: other.edit(rng.choice(names()), expires="1h"),
        lambda: store.create_session(rng.choice(names()), client=None, user_agent=None),
        lambda: store.record_usage({r.id: clock.now for r in other.load().records[:3]}),
        lambda: clock.advance(minutes=10),
        lambda: hand_edit(lambda d: d["tokens"].reverse()),
        lambda: hand_edit(lambda d: d["tokens"][0].update(permissions=["write", "read"])),
        lambda: hand_edit(lambda d: d["tokens"].append(d["tokens"][0])),  # broken: duplicate
        lambda: hand_edit(lambda d: d["tokens"][-1].update(expires_at="tomorrow")),  # broken
        lambda: store.path.write_bytes(store.path.read_bytes()[:-40]),  # broken: truncated
        lambda: hand_edit(lambda d: d["tokens"].pop(0) if d["tokens"] else None),
    ]
    repairs = 0
    for _ in range(120):
        with contextlib.suppress(AuthTuiError, IndexError, ValueError):
            rng.choice(steps)()  # refused by a broken file: the next repair mends it
        seen = _held(entries)
        assert seen == _held(records)
        if isinstance(seen, str):  # repair: a valid file written whole by hand
            repairs += 1
            fixed: list[dict[str, Any]] = []
            for i in range(3):
                issued = TokenRecord(
                    id=f"fix{repairs % 10}{i}abc"[:8],
                    name=f"fixed{repairs}-{i}",
                    permissions=(Permission.READ,),
                    created_at=clock.now,
                    expires_at=clock.now + timedelta(days=1),
                    hint="ocat_x",
                    digest=f"sha256:{repairs:032x}{i:032x}",
                )
                fixed.append(issued.to_json())
            doc = {"version": 3, "tokens": fixed, "sessions": [], "pairings": []}
            store.path.write_bytes(json.dumps(doc, indent=2).encode() + b"\n")
            assert _held(entries) == _held(records)
    assert entries.reloads > 50 and repairs >= 3  # broken files were met, and mended


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["drop", "move", "copy", "swap", "rename", "reverse"]), st.integers(0, 40)
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(rounds=st.lists(EDITS, min_size=1, max_size=4))
def test_a_followed_file_reads_as_the_same_file_read_whole(
    base: dict[str, Any], store_path: Path, rounds: list[list[tuple[str, int]]]
) -> None:
    """Blocks dropped, moved, copied (a duplicate: refused), swapped, changed or
    the order reversed, version after version: the reader that follows the file
    holds what a fresh reader of the same bytes holds, or refuses it the same."""
    doc = copy.deepcopy(base)
    doc["tokens"] += [
        {
            **doc["tokens"][0],
            "id": f"more{i:04d}",
            "name": f"more-{i}",
            "digest": f"sha256:{i:064x}",
        }
        for i in range(12)
    ]
    store_path.write_bytes(_dumps(doc, 2))
    follower = EntryReader(store_path, racy_window=0)
    follower.reload()
    for edits in rounds:
        tokens = doc["tokens"]
        for edit, at in edits:
            i = at % max(len(tokens), 1)
            if not tokens:
                break
            if edit == "drop":
                tokens.pop(i)
            elif edit == "move":
                tokens.insert(at % len(tokens), tokens.pop(i))
            elif edit == "copy":
                tokens.insert(at % len(tokens), copy.deepcopy(tokens[i]))
            elif edit == "swap":
                j = (i + 1) % len(tokens)
                tokens[i], tokens[j] = tokens[j], tokens[i]
            elif edit == "rename":
                tokens[i] = {**tokens[i], "name": f"renamed-{at}-{len(tokens)}"}
            else:
                tokens.reverse()
        store_path.write_bytes(_dumps(doc, 2))
        exact = _exact(store_path, store_path.read_bytes())
        got = _refusal(follower.reload)
        fresh = _refusal(lambda: CachedAuthorizer(EntryReader(store_path)).index())
        if isinstance(got, StoreError):
            assert isinstance(exact, StoreError) and str(got) == str(exact) == str(fresh)
            doc = copy.deepcopy(base)  # mend it, and go on from a whole read
            store_path.write_bytes(_dumps(doc, 2))
            follower.reload()
            continue
        index = fresh
        assert not isinstance(exact, StoreError)
        assert got.entries is not None or got.delta is not None
        assert follower._held is not None and follower._held.blocks is not None
        held = {e.digest: e for e in follower._held.blocks.values()}
        assert len(held) == len(exact[0]) == len(index)
        for entry in exact[0]:
            assert entry.same(held[entry.digest])
