"""The usage writes without records (core/store/file/usage_write.py) against the
general write path (`Store.record_usage` over `_mutate`): on every store - made
by the program, hand-edited, older, broken, read-only - the same result, the
same error, and byte for byte the same file; taken without records where the
file is canonical; and the authorizer's reader takes the write without reading
the file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.authz.authorizer import CachedAuthorizer
from core.model import schema
from core.model.errors import InputError, StoreError, StoreReadOnly
from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.model.schema import parse_block
from core.store import TokenStore
from core.store.base import Store
from core.store.changes import Used
from core.store.file import index_reader, reading
from core.store.file.fast_parse import block_entry
from core.store.file.format import block_of
from core.store.file.usage_write import _CANONICAL, UsageWrites
from tests.core.core_helpers import T0, FakeClock, SeededBytes

Seen = Mapping[str, tuple[datetime, str | None]]


def _outcome(store: TokenStore, run: Callable[[], int]) -> int | tuple[type[BaseException], str]:
    """What `run` returns, or its StoreError's type and text (the path left out)."""
    try:
        return run()
    except StoreError as exc:
        return type(exc), str(exc).replace(str(store.path), "<store>")


def _twin(path: Path, clock: FakeClock) -> tuple[TokenStore, TokenStore]:
    """Two stores over copies of `path`'s file: one for each path."""
    copy = path.with_name(path.name + ".general.json")
    shutil.copy2(path, copy)
    return (
        TokenStore(path, clock=clock, token_bytes=SeededBytes(), lock_timeout=5.0),
        TokenStore(copy, clock=clock, token_bytes=SeededBytes(), lock_timeout=5.0),
    )


def compare_usage(path: Path, clock: FakeClock, used: Mapping[str, Used]) -> bool:
    """The fast and the general path on copies of the file: the same answer (or
    error) and the same bytes after. Whether the fast path took it."""
    fast, general = _twin(path, clock)
    taken: list[int | None] = []
    real = UsageWrites.record_usage

    def spy(self: UsageWrites, *args: Any) -> int | None:
        taken.append(-1)  # raised: taken, and refused
        taken[-1] = real(self, *args)
        return taken[-1]

    setattr(UsageWrites, "record_usage", spy)  # noqa: B010 - a spy, put back below
    try:
        got = _outcome(fast, lambda: fast.record_usage(used))
    finally:
        setattr(UsageWrites, "record_usage", real)  # noqa: B010
    want = _outcome(general, lambda: Store.record_usage(general, used))
    assert got == want
    assert fast.path.read_bytes() == general.path.read_bytes()
    general.path.unlink()
    return bool(taken) and taken[0] is not None


def compare_seen(path: Path, clock: FakeClock, seen: Seen) -> bool:
    """As `compare_usage`, for `record_session_seen`."""
    fast, general = _twin(path, clock)
    taken: list[int | None] = []
    real = UsageWrites.record_session_seen

    def spy(self: UsageWrites, *args: Any) -> int | None:
        taken.append(-1)  # raised: taken, and refused
        taken[-1] = real(self, *args)
        return taken[-1]

    setattr(UsageWrites, "record_session_seen", spy)  # noqa: B010 - a spy, put back below
    try:
        got = _outcome(fast, lambda: fast.record_session_seen(seen))
    finally:
        setattr(UsageWrites, "record_session_seen", real)  # noqa: B010
    want = _outcome(general, lambda: Store.record_session_seen(general, seen))
    assert got == want
    assert fast.path.read_bytes() == general.path.read_bytes()
    general.path.unlink()
    return bool(taken) and taken[0] is not None


def populated(store: TokenStore, clock: FakeClock) -> dict[str, str]:
    """A store with every kind of field, used tokens, sessions (one to expire)
    and pairings; its ids by name."""
    store.create(name="plain")
    store.create(name='caf\u00e9 "\u2603" \\', note="a \\ note")
    store.create(
        name="dirs", permissions="read,write", expires="30d", note="a note", directories=["/srv/a"]
    )
    store.create(name="reader", permissions="read", expires="1h")
    store.create(name="exec", permissions="execute", expires="never")
    ids = {r.name: r.id for r in store.tokens()}
    store.record_usage({ids["dirs"]: (clock.now, "192.0.2.7")})
    store.create_session("plain", client="192.0.2.1", user_agent="UA")
    store.create_session("reader", client=None, user_agent=None)  # ends with its token, in 1h
    store.create_pairing("dirs")
    return ids


def test_the_same_bytes_and_answers_on_a_canonical_store(
    store: TokenStore, clock: FakeClock
) -> None:
    ids = populated(store, clock)
    later = clock.now + timedelta(minutes=5)
    earlier = clock.now - timedelta(minutes=5)
    batches: list[dict[str, Used]] = [
        {ids["plain"]: later},
        {ids["plain"]: (later, "2001:db8::1"), ids["exec"]: (later, None)},
        {ids["dirs"]: (earlier, "192.0.2.9")},  # older than the time kept: no change
        {ids["dirs"]: (clock.now, "192.0.2.9")},  # the same time: no change either
        {"zzzz9999": later},  # unknown (deleted meanwhile): ignored
        {ids["exec"]: (later, "x" * 100)},  # the address cut to what the store keeps
        {ids["reader"]: (later + timedelta(hours=2), "192.0.2.3")},  # a session expires now
        {},
    ]
    for used in batches:
        assert compare_usage(store.path, clock, used)
    sessions = {s.token_id: s.id for s in store.sessions()}
    for seen in (
        {sessions[ids["plain"]]: (later, "192.0.2.5")},
        {sessions[ids["plain"]]: (later, None)},
        {sessions[ids["plain"]]: (earlier, "192.0.2.5")},
        {"zzzz9999": (later, None)},
    ):
        assert compare_seen(store.path, clock, seen)


def test_a_long_lived_store_writes_what_the_general_path_writes(
    store: TokenStore, clock: FakeClock, tmp_path: Path
) -> None:
    """Batch after batch on one store object (the gateway's): the same file as the
    general path's batch after batch, and no record held."""
    ids = populated(store, clock)
    other_path = tmp_path / "general.json"
    shutil.copy2(store.path, other_path)
    general = TokenStore(other_path, clock=clock, token_bytes=SeededBytes())
    for minute in range(1, 6):
        clock.advance(minutes=1)
        used: dict[str, Used] = {ids["plain"]: (clock.now, f"192.0.2.{minute}")}
        if minute % 2:
            used[ids["exec"]] = clock.now
        assert store.record_usage(used) == Store.record_usage(general, used)
        assert store.path.read_bytes() == other_path.read_bytes()
        assert store._reader.current is None and store.last_written is None
    assert store.get("plain").last_used_at == clock.now.replace(microsecond=0)


def test_non_canonical_files_take_the_general_path(store: TokenStore, clock: FakeClock) -> None:
    ids = populated(store, clock)
    used: dict[str, Used] = {ids["plain"]: (clock.now + timedelta(minutes=1), "192.0.2.1")}
    canonical = store.path.read_bytes()
    doc = json.loads(canonical)
    edits: list[bytes] = [
        json.dumps(doc).encode(),  # one line
        canonical.replace(b'"2026-01-15T12:34:56Z"', b'"2026-01-15T12:34:56+00:00"', 1),
        canonical.replace(b'"name": "plain"', b'"name": "pl\\u0061in"'),  # an escape
        canonical.replace(b'"name": "plain"', b'"name": "pl\\/in"'),  # an escape json avoids
        canonical.replace(b'"name": "plain"', b'"name": "pl\xc3in"'),  # not UTF-8
        canonical.replace(
            b'"legacy": false,\n      "note": null', b'"note": null,\n      "legacy": false', 1
        ),
        canonical.replace(b'"name": "reader"', b'"name": "plain"'),  # a duplicate name
        canonical.replace(b'"version": 3', b'"version": 2'),
        canonical.replace(b'"/srv/a"', b'"/srv/a/"'),
        canonical[:-10],  # truncated
        b"",
        b"[]",
    ]
    for data in edits:
        store.path.write_bytes(data)
        assert not compare_usage(store.path, clock, used)
    store.path.write_bytes(canonical)
    assert compare_usage(store.path, clock, used)


def test_a_read_only_store_refuses_as_before_and_stays(store: TokenStore, clock: FakeClock) -> None:
    ids = populated(store, clock)
    before = store.path.read_bytes()
    os.chmod(store.path, 0o400)
    with pytest.raises(StoreReadOnly, match="read-only"):
        store.record_usage({ids["plain"]: clock.now + timedelta(minutes=1)})
    assert store.path.read_bytes() == before
    assert store.record_usage({ids["dirs"]: clock.now - timedelta(days=1)}) == 0  # no change
    assert compare_usage(store.path, clock, {ids["plain"]: clock.now + timedelta(minutes=1)})


def test_the_authorizer_takes_the_write_without_reading_the_file(
    store: TokenStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = populated(store, clock)
    reads: list[object] = []
    real = reading.read_file

    def counted(*args: Any) -> Any:
        reads.append(args[0])
        return real(*args)

    monkeypatch.setattr(index_reader, "read_file", counted)
    gateway = TokenStore(store.path, clock=clock)
    reader = gateway.new_reader()
    first = reader.reload()
    assert first.entries is not None and len(first.entries) == 5
    os.utime(store.path, ns=(0, 0))  # old enough: not read again as racy
    reader.reload()
    reads.clear()
    session = next(s for s in store.sessions() if s.token_id == ids["plain"])
    clock.advance(minutes=1)
    assert gateway.record_usage({ids["plain"]: (clock.now, "192.0.2.8")}) == 1
    assert gateway.record_session_seen({session.id: (clock.now, "192.0.2.8")}) == 1
    taken = reader.reload()
    assert reads == []
    assert taken.version == gateway.version() and taken.delta == ([], [])
    assert [s.last_seen_at for s in taken.sessions if s.id == session.id] == [
        clock.now.replace(microsecond=0)
    ]
    # what it holds is what a fresh read of the file gives
    fresh = TokenStore(store.path).new_reader().reload()
    assert fresh.entries is not None and fresh.sessions == taken.sessions
    # and the next change by another process is read, only the block that changed
    reads.clear()
    TokenStore(store.path, clock=clock).delete(["reader"])
    after = reader.reload()
    assert len(reads) == 1 and after.delta is not None
    assert [e.id for e in after.delta[0]] == [ids["reader"]]


def test_the_authorizer_decides_on_the_written_version(store: TokenStore, clock: FakeClock) -> None:
    store.create(name="a")
    secret = store.rotate("a").secret.reveal()
    authorizer = CachedAuthorizer(store.new_reader(), clock=clock)
    assert authorizer.token_of(secret) is not None
    clock.advance(minutes=1)
    assert store.record_usage({store.get("a").id: clock.now}) == 1
    held = authorizer.token_of(secret)
    assert held is not None and held.id == store.get("a").id
    assert authorizer.version() == store.version()
    store.delete(["a"])
    assert authorizer.token_of(secret) is None


def test_concurrent_writers_lose_nothing(store: TokenStore, clock: FakeClock) -> None:
    """The usage writer (no records) and other store objects changing the file at
    the same time, under the one lock: every token created is there, every use
    recorded, every session seen."""
    for i in range(10):
        store.create(name=f"u{i}")
    used_ids = [r.id for r in store.tokens()]
    session = store.create_session("u0", client=None, user_agent=None).record
    gateway = TokenStore(store.path, clock=clock)
    errors: list[BaseException] = []

    def run(work: Callable[[int], object]) -> Callable[[], None]:
        def loop() -> None:
            try:
                for n in range(1, 31):
                    work(n)
            except BaseException as exc:  # reported below
                errors.append(exc)

        return loop

    def use(n: int) -> None:
        when = T0 + timedelta(minutes=n)
        gateway.record_usage({token_id: (when, f"192.0.2.{n}") for token_id in used_ids})
        gateway.record_session_seen({session.id: (when, f"192.0.2.{n}")})

    other = TokenStore(store.path, clock=clock)
    workers = [
        threading.Thread(target=run(use)),
        threading.Thread(target=run(lambda n: other.create(name=f"c{n}"))),
        threading.Thread(
            target=run(lambda n: TokenStore(store.path, clock=clock).edit("u1", note=f"n{n}"))
        ),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    final = TokenStore(store.path)
    names = {r.name for r in final.tokens()}
    assert {f"c{n}" for n in range(1, 31)} <= names and len(names) == 40
    last = (T0 + timedelta(minutes=30)).replace(microsecond=0)
    assert {final.get(i).last_used_at for i in used_ids} == {last}
    assert {final.get(i).last_used_from for i in used_ids} == {"192.0.2.30"}
    assert final.get("u1").note == "n30"
    assert [s.last_seen_at for s in final.sessions()] == [last]


# --- every kind of store, by hypothesis -------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12
)
_PLAIN = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12
)
_NAME = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
)
_TOKEN = st.fixed_dictionaries(
    {
        "name": st.one_of(_PLAIN, _NAME),
        "permissions": st.sampled_from(
            ["read", "write", "execute", "read,execute", "read,write,execute"]
        ),
        "expires": st.sampled_from(["never", "1h", "30d", "90d"]),
        "note": st.one_of(st.none(), _PLAIN, _NAME),
        "directories": st.lists(st.sampled_from(["/srv/a", "/srv/b", "/home/x y"]), max_size=2),
        "used": st.one_of(st.none(), st.integers(-100, 100)),
        "client": st.one_of(st.none(), _PLAIN, _TEXT),
        "session": st.booleans(),
        "pairing": st.booleans(),
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tokens=st.lists(_TOKEN, min_size=1, max_size=6),
    batch=st.lists(
        st.tuples(
            st.integers(0, 7),
            st.integers(-200, 200),
            st.one_of(st.none(), _PLAIN, _TEXT),
            st.booleans(),
        ),
        max_size=6,
    ),
    later=st.integers(0, 3),
)
def test_any_store_and_batch_the_same_bytes(
    tokens: list[dict[str, Any]], batch: list[tuple[int, int, str | None, bool]], later: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clock = FakeClock()
        path = Path(folder) / "auth-tokens.json"
        store = TokenStore(path, clock=clock, token_bytes=SeededBytes(7))
        store.create(name='a "quoted" \\ name', note="caf\u00e9 \u2603")
        for i, t in enumerate(tokens):
            try:
                created = store.create(
                    name=f"{t['name']}-{i}",
                    permissions=t["permissions"],
                    expires=t["expires"],
                    note=t["note"],
                    directories=t["directories"],
                ).record
            except InputError:  # a name or note the program refuses (control characters)
                continue
            if t["used"] is not None:
                when = clock.now + timedelta(minutes=t["used"])
                store.record_usage({created.id: (when, t["client"])})
            if t["session"]:
                store.create_session(created.id, client=t["client"], user_agent=t["note"])
            if t["pairing"]:
                store.create_pairing(created.id)
        clock.advance(hours=later)  # sessions and pairings may have expired
        ids = [r.id for r in store.tokens()] + ["zzzz9999", "0000aaaa"]
        used: dict[str, Used] = {}
        seen: dict[str, tuple[datetime, str | None]] = {}
        sessions = [s.id for s in store.sessions()] + ["zzzz9999"]
        for at, minutes, client, bare in batch:
            when = T0 + timedelta(minutes=minutes, microseconds=at)
            used[ids[at % len(ids)]] = when if bare else (when, client)
            seen[sessions[at % len(sessions)]] = (when, client)
        # every file this program writes is one the fast path takes
        assert compare_usage(path, clock, used)
        assert compare_seen(path, clock, seen)


@settings(max_examples=300, deadline=None)
@given(
    name=_TEXT,
    note=st.one_of(st.none(), _TEXT),
    client=st.one_of(st.none(), _TEXT),
    hint=_TEXT,
    directories=st.lists(st.sampled_from(["/a", "/b", "/srv/\u00e9", "/c d"]), unique=True),
    times=st.lists(
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.sampled_from([UTC, None]),
        ).map(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC)),
        min_size=3,
        max_size=3,
    ),
    whole=st.booleans(),
)
def test_what_the_check_accepts_block_of_writes_back_the_same(
    name: str,
    note: str | None,
    client: str | None,
    hint: str,
    directories: list[str],
    times: list[datetime],
    whole: bool,
) -> None:
    """The premise of byte-equality: a block `_CANONICAL` and the fast check
    accept is exactly what `block_of` writes for it; and what the program
    writes is accepted (so the fast path is taken)."""
    if whole:
        times = [t.replace(microsecond=0) for t in times]
    record = TokenRecord(
        id="abcd1234",
        name=name,
        permissions=(Permission.READ, Permission.WRITE),
        created_at=times[0],
        expires_at=times[1],
        last_used_at=times[2],
        last_used_from=client[:64] if client else None,
        hint=hint,
        digest="sha256:" + "0" * 64,
        note=note,
        directories=tuple(directories),
    )
    block = block_of(record)
    accepted = _CANONICAL.fullmatch(block) is not None and block_entry(block, {}) is not None
    if accepted:
        assert block_of(parse_block(block)) == block
    if whole:  # whatever the text, as this program writes it
        assert accepted
    # and a block edited in any one byte is accepted only if it still writes back the same
    for at in range(0, len(block), 7):
        for byte in (b"0", b" ", b'"', b"Z", b"\n"):
            edited = block[:at] + byte + block[at + 1 :]
            if _CANONICAL.fullmatch(edited) and block_entry(edited, {}) is not None:
                assert block_of(parse_block(edited)) == edited


@pytest.mark.parametrize(
    "char",
    [
        "\x7f",
        "\u2028",
        "\ufeff",
        "\uffff",
        "\U0001f600",
        "\x00",
        "\x1f",
        "\x08",
        "\x0b",
        "/",
        '"',
        "\\",
        "\x85",
    ],
)
def test_every_character_as_block_of_writes_it(char: str) -> None:
    """Raw or escaped, each character is accepted exactly as `block_of` writes it,
    and not in the other form."""
    record = schema.TokenRecord.model_validate(
        {
            "id": "abcd1234",
            "name": f"a{char}b",
            "permissions": ["read"],
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": None,
            "hint": f"h{char}",
            "digest": "sha256:" + "0" * 64,
            "note": f"n{char}",
            "last_used_from": f"c{char}",
        }
    ).record()
    block = block_of(record)
    assert _CANONICAL.fullmatch(block) and block_entry(block, {}) is not None
    written = json.dumps(char, ensure_ascii=False)[1:-1].encode()
    other = char.encode() if written != char.encode() else f"\\u{ord(char):04x}".encode()
    edited = block.replace(b"a" + written + b"b", b"a" + other + b"b")
    assert edited != block
    accepted = _CANONICAL.fullmatch(edited) and block_entry(edited, {}) is not None
    assert not accepted or block_of(parse_block(edited)) == edited
