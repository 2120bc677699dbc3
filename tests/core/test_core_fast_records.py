"""The CLI's fast read (core/store/file/fast_records.py) against the models: on
every file - the corpus of test_core_fast_parse.py (valid, broken field by field
and byte by byte), random valid stores, random byte edits of them - the fast
path either declines or gives exactly the records `parse_store` gives: equal
field by field, with the same types (times with the same offset), the same
JSON and the same bytes when written back; and the reader the CLI
uses (`read_snapshot`) accepts and refuses exactly what the models do."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import schema as schema_models
from core.model.errors import StoreError
from core.model.permissions import Permission, canonical
from core.model.records import PairingRecord, SessionRecord, TokenRecord
from core.store import TokenStore
from core.store.file import fast_records
from core.store.file.fast_records import fast_load
from core.store.file.format import block_of, serialize, split
from core.store.file.reading import parse_store, read_snapshot
from tests.core.core_helpers import FakeClock
from tests.core.test_core_fast_parse import (
    DELETE,
    FIELD_VALUES,
    RAW_BREAKS,
    _dumps,
    variants,
)
from tests.core.test_core_fast_parse import (
    base as base,  # the fixture, shared
)


def assert_same_record(fast: TokenRecord, exact: TokenRecord) -> None:
    """Field by field, in the same order, with the same types; the same JSON."""
    assert type(fast) is TokenRecord
    fields = [f.name for f in dataclasses.fields(TokenRecord)]
    assert list(fast.__dict__) == list(exact.__dict__) == fields
    for field, value in exact.__dict__.items():
        got = fast.__dict__[field]
        assert got == value and type(got) is type(value), field
        if isinstance(value, datetime):
            assert got.utcoffset() == value.utcoffset()
            assert got.tzname() == value.tzname()
        if isinstance(value, tuple):
            assert [type(v) for v in got] == [type(v) for v in value], field
    assert fast == exact
    assert fast.to_json() == exact.to_json()
    assert block_of(fast) == block_of(exact)
    assert fast_records.same_record(fast, exact)


def _models(path: Path, data: bytes, read: Any = None) -> Any:
    """`parse_store`'s document (or `read(path)`'s result), or the StoreError raised."""
    try:
        return parse_store(path, data) if read is None else read(path)
    except StoreError as exc:
        return exc


def check(path: Path, data: bytes) -> str:
    """Asserts the fast read agrees with the models on `data`; says which way it went."""
    exact = _models(path, data)
    layout = split(data)
    fast = None if layout is None else fast_load(*layout)
    if fast is not None:
        assert not isinstance(exact, StoreError), f"fast read took what the models refuse: {exact}"
        records, (sessions, pairings) = fast
        assert len(records) == len(exact.tokens)
        for got, want in zip(records, exact.tokens, strict=True):
            assert_same_record(got, want)
        assert sessions == exact.sessions and pairings == exact.pairings
        assert serialize(records, sessions, pairings) == serialize(
            exact.tokens, exact.sessions, exact.pairings
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)
    snapshot = _models(path, data, read=read_snapshot)
    if isinstance(snapshot, StoreError):
        assert isinstance(exact, StoreError), f"refused what the models accept: {snapshot}"
        assert type(snapshot) is type(exact) and str(snapshot) == str(exact)
        return "refused"
    assert not isinstance(exact, StoreError), f"the reader took what the models refuse: {exact}"
    assert len(snapshot.records) == len(exact.tokens)
    for got, want in zip(snapshot.records, exact.tokens, strict=True):
        assert_same_record(got, want)
    assert snapshot.sessions == exact.sessions and snapshot.pairings == exact.pairings
    return "fast" if fast is not None else "models"


def test_the_sample_agrees_and_the_pattern_holds_the_models_limits() -> None:
    assert fast_records.agrees_with_models()
    schema = schema_models.TokenRecord.model_json_schema()["properties"]
    pattern = fast_records._BLOCK.pattern
    assert schema["last_used_from"]["anyOf"][0]["maxLength"] == 64
    assert '"last_used_from": (?:"([^"\\\\\\x00-\\x1f]{0,64})"' in pattern
    assert (schema["hint"]["minLength"], schema["hint"]["maxLength"]) == (1, 64)
    assert '"hint": "([^"\\\\\\x00-\\x1f]{1,64})"' in pattern
    note = schema["note"]["anyOf"][0]
    assert (note["minLength"], note["maxLength"]) == (1, 200)
    assert '"note": (?:"([^"\\\\\\x00-\\x1f]{1,200})"' in pattern
    assert schema["id"]["pattern"] == "^[0-9a-z]{8}$"
    assert schema["digest"]["pattern"] == "^sha256:[0-9a-f]{64}$"
    assert schema["name"]["minLength"] == 1 and "maxLength" not in schema["name"]


@pytest.fixture
def plain(base: dict[str, Any]) -> dict[str, Any]:
    """`base` without its one escaped string (a quote in a note), which sends a
    whole file to the models."""
    doc = copy.deepcopy(base)
    doc["tokens"][1]["note"] = "a note"
    return doc


@pytest.mark.parametrize("escaped", [False, True])
def test_every_field_broken_in_turn(
    base: dict[str, Any], plain: dict[str, Any], store_path: Path, escaped: bool
) -> None:
    taken: dict[str, int] = {}
    for doc in variants(base if escaped else plain):
        for indent in (2, None):
            data = _dumps(doc, indent)
            way = check(store_path, data)
            taken[way] = taken.get(way, 0) + 1
            assert way != "fast" or _plain(data)  # an escape: the models read it
    assert taken.get("refused", 0) > 50 and taken.get("models")
    assert taken.get("fast", 0) > (0 if escaped else 30)


@pytest.fixture
def written(store: TokenStore, clock: FakeClock) -> bytes:
    """A file as this program writes it, of every kind of field, sessions and a
    pairing, with no string that needs an escape."""
    store.create(name="plain")
    store.create(
        name="caf\u00e9 \u2603",
        permissions="read,write",
        expires="30d",
        note="a note",
        directories=["/srv/a", "/srv/b"],
    )
    store.create(name="reader", permissions="read", expires="1h")
    store.create_session("plain", client="192.0.2.1", user_agent="UA \u00e9")
    store.create_pairing("reader")
    store.record_usage({store.load().require("plain").id: (clock.now, "2001:db8::1")})
    return store.path.read_bytes()


def test_the_files_this_program_writes_take_the_fast_read(
    store: TokenStore, written: bytes
) -> None:
    layout = split(written)
    fast = None if layout is None else fast_load(*layout)
    assert fast is not None
    assert serialize(fast[0], *fast[1]) == written  # written back: the same bytes
    assert check(store.path, written) == "fast"


@pytest.mark.parametrize("index", range(len(RAW_BREAKS)))
def test_files_broken_byte_by_byte(written: bytes, store: TokenStore, index: int) -> None:
    check(store.path, RAW_BREAKS[index](written))


def _time_text(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def test_times_at_and_past_every_limit(plain: dict[str, Any], store_path: Path) -> None:
    """Dates and clock times around every limit - no year 0, February in leap and
    other years, the 31st of every month, hour 24, second 60 - decided as the
    models decide them."""
    texts = [
        _time_text(y, 2, d, 0, 0, 0)
        for y in (0, 1, 4, 100, 400, 1900, 2000, 2024, 9999)
        for d in (28, 29, 30)
    ]
    texts += [_time_text(2025, m, d, 0, 0, 0) for m in range(14) for d in (0, 1, 30, 31, 32)]
    texts += [_time_text(2025, 1, 1, h, 0, 0) for h in (0, 23, 24, 99)]
    texts += [_time_text(2025, 1, 1, 0, m, s) for m in (0, 59, 60) for s in (0, 59, 60, 61)]
    texts += [t.replace("Z", f".{f}Z") for t in texts[:4] for f in ("000000", "000001", "999999")]
    ways = set()
    for text in texts:
        doc = copy.deepcopy(plain)
        doc["tokens"][1]["created_at"] = text
        ways.add(check(store_path, _dumps(doc, 2)))
    assert ways == {"fast", "refused"}


NAME_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=80)
DIRECTORY = st.sampled_from(["/", "/srv", "/srv/a", "/srv/a b", "/home/\u00e9", "/x\u2603/y"])
TIME = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@st.composite
def token_records(draw: st.DrawFn, i: int) -> TokenRecord:
    perms = draw(st.sets(st.sampled_from(list(Permission)), min_size=1))
    return TokenRecord(
        id=f"{i:08d}",
        name=draw(NAME_TEXT) + f"#{i}",
        permissions=canonical(perms),
        created_at=draw(TIME),
        expires_at=draw(st.none() | TIME),
        last_used_at=draw(st.none() | TIME),
        last_used_from=draw(st.none() | st.text(max_size=64)),
        hint=draw(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64)),
        digest=f"sha256:{i:064x}",
        legacy=draw(st.booleans()),
        note=draw(st.none() | st.text(min_size=1, max_size=200)),
        directories=tuple(draw(st.lists(DIRECTORY, unique=True, max_size=3))),
    )


@st.composite
def stores(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(0, 6))
    records = [draw(token_records(i)) for i in range(count)]
    sessions: list[SessionRecord] = []
    pairings: list[PairingRecord] = []
    with_sessions: bool = draw(st.booleans())
    if records and with_sessions:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        sessions.append(
            SessionRecord(
                id="sess0001",
                digest="sha256:" + "e" * 64,
                token_id=records[0].id,
                created_at=now,
                expires_at=now + timedelta(days=1),
                client=draw(st.none() | st.text(max_size=64)),
                user_agent=None,
                via="login",
            )
        )
        pairings.append(
            PairingRecord(
                digest="sha256:" + "f" * 64,
                token_id=records[-1].id,
                created_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
    return serialize(records, sessions, pairings)


def _plain(data: bytes) -> bool:
    """No string in the file needs an escape (what the fast read takes)."""
    return b"\\" not in data


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=stores())
def test_random_stores_written_by_the_program(store_path: Path, data: bytes) -> None:
    way = check(store_path, data)
    if _plain(data):
        assert way == "fast"


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=stores(),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "replace"]), st.integers(0), st.binary(max_size=3)
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_random_byte_edits_of_those_stores(
    store_path: Path, data: bytes, edits: list[tuple[str, int, bytes]]
) -> None:
    for edit, at, new in edits:
        i = at % (len(data) + 1)
        if edit == "insert":
            data = data[:i] + new + data[i:]
        elif edit == "delete":
            data = data[:i] + data[i + len(new) + 1 :]
        else:
            data = data[:i] + new + data[i + len(new) :]
    check(store_path, data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(sorted(FIELD_VALUES)),
    value=st.text(max_size=70) | st.none() | st.booleans() | st.integers(),
    at=st.integers(0, 2),
)
def test_random_values_in_any_field(
    plain: dict[str, Any], store_path: Path, field: str, value: Any, at: int
) -> None:
    doc = copy.deepcopy(plain)
    doc["tokens"][at][field] = value
    check(store_path, _dumps(doc, 2))


def test_a_store_read_fast_is_written_back_byte_for_byte(store: TokenStore, written: bytes) -> None:
    """A change through the store after a fast read writes what a change after a
    validated read writes (the other tokens' blocks unchanged)."""
    before = store.path.read_bytes()
    fresh = TokenStore(store.path, clock=store.clock)
    fresh.create(name="another")
    after = store.path.read_bytes()
    tokens = json.loads(after)["tokens"]
    assert [t["name"] for t in tokens][:-1] == [t["name"] for t in json.loads(before)["tokens"]]
    assert after.startswith(before[: before.index(b"\n    }\n  ],")])


def _fresh_process(code: str, *args: str) -> str:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_a_fresh_process_reads_the_file_without_pydantic(written: bytes, tmp_path: Path) -> None:
    """The point of the fast read: reading a file this program wrote, browser
    sessions and a pairing link included, imports no pydantic."""
    target = tmp_path / "copy.json"
    target.write_bytes(written)
    target.chmod(0o600)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from core.store import TokenStore\n"
        "snapshot = TokenStore(Path(sys.argv[1])).load()\n"
        "assert (len(snapshot.records), len(snapshot.sessions)) == (3, 1), snapshot\n"
        "assert len(snapshot.pairings) == 1, snapshot\n"
        "print('pydantic' in sys.modules)"
    )
    assert _fresh_process(code, str(target)) == "False"


SESSION_VALUES: dict[str, list[Any]] = {
    "id": ["abcd1234", "ABCD1234", "abcd123", 5, None, DELETE],
    "digest": ["sha256:" + "b" * 64, "sha256:" + "B" * 64, "sha256:" + "b" * 63, None],
    "token_id": ["abcd123", "zzzz0000", None],
    "created_at": ["2026-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "yesterday", None],
    "expires_at": ["2026-01-01T00:00:00.123456Z", "2026-01-01T00:00:00+01:00", None, DELETE],
    "last_seen_at": [None, "2026-01-01T24:00:00Z", "2026-01-02T00:00:00Z", DELETE],
    "client": [None, "", "x" * 64, "x" * 65, 'a "q"', "\u00e9", 5, DELETE],
    "user_agent": [None, "", "x" * 200, "x" * 201, "a\\b", "\u2028", DELETE],
    "via": ["login", "pairing", "Login", "telepathy", None, DELETE],
    "expires": [None],
}
PAIRING_VALUES: dict[str, list[Any]] = {
    "digest": ["sha256:" + "c" * 64, "sha256:" + "c" * 65, None, DELETE],
    "token_id": ["abcd123", "zzzz0000", 5],
    "created_at": ["2026-01-01T00:00:00Z", "0000-01-01T00:00:00Z", None, DELETE],
    "expires_at": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01", DELETE],
    "via": ["login"],
}


def test_every_session_and_pairing_field_broken_in_turn(written: bytes, store: TokenStore) -> None:
    """The tail's fast read against the models: each field of a session and of a
    pairing changed in turn, in the canonical layout - taken exactly when the models
    take it, and then the same records."""
    doc = json.loads(written)
    taken: dict[str, int] = {}
    for key, values in (("sessions", SESSION_VALUES), ("pairings", PAIRING_VALUES)):
        for field, choices in values.items():
            for value in choices:
                new = copy.deepcopy(doc)
                if value is DELETE:
                    new[key][0].pop(field, None)
                else:
                    new[key][0][field] = value
                way = check(store.path, _dumps(new, 2))
                taken[way] = taken.get(way, 0) + 1
    assert taken.get("fast", 0) > 10 and taken.get("refused", 0) > 20 and taken.get("models")


def test_the_tail_pattern_holds_the_models_limits() -> None:
    sessions = schema_models.SessionRecord.model_json_schema()["properties"]
    pattern = fast_records._TAIL.pattern
    assert sessions["client"]["anyOf"][0]["maxLength"] == 64
    assert '"client": (?:"([^"\\\\\\x00-\\x1f]{0,64})"' in pattern
    assert sessions["user_agent"]["anyOf"][0]["maxLength"] == 200
    assert '"user_agent": (?:"([^"\\\\\\x00-\\x1f]{0,200})"' in pattern
    assert sessions["via"]["enum"] == ["login", "pairing"]
    assert '"via": "(login|pairing)"' in pattern


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "list"],
        ["token", "list", "--json"],
        ["token", "show", "plain"],
        ["token", "create", "another", "--quiet"],
        ["token", "edit", "plain", "--note", "edited"],
        ["token", "rotate", "plain", "--quiet"],
        ["token", "delete", "plain", "--yes"],
    ],
)
def test_a_command_on_a_file_this_program_wrote_imports_no_pydantic(
    store: TokenStore, tmp_path: Path, argv: list[str]
) -> None:
    """What the store's plain records are for: the CLI's commands on a file in the
    layout this program writes, browser sessions and pairing links included, import
    no pydantic (its import alone is most of a command's start). The control: a file
    in another layout imports it, to validate."""
    store.create(name="plain", note="a note", directories=["/srv/a"])
    store.create(name="reader", permissions="read", expires="1h")
    store.create_session("plain", client="192.0.2.1", user_agent="UA")
    store.create_pairing("reader")
    code = (
        "import sys\n"
        "from core.cli import run\n"
        "code = run(sys.argv[1:])\n"
        "print(code, 'pydantic' in sys.modules)"
    )
    target = str(store.path)
    assert _fresh_process(code, "--store", target, *argv).splitlines()[-1] == "0 False"
    indented = json.dumps(json.loads(store.path.read_text()), indent=4)  # another layout
    store.path.write_text(indented)
    assert _fresh_process(code, "--store", target, "token", "list").splitlines()[-1] == "0 True"
