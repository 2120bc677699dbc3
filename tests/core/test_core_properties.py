"""Property-based tests (hypothesis): the expiry parser, the path normaliser, the
store round-trip and the token format."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.authz.rules import INTERACTIVE_MARKERS, normalize_path, request_path, required_permissions
from core.model.errors import InputError, InvalidExpiry, InvalidName
from core.model.expiry import MAX_LIFETIME, parse_expiry
from core.model.names import validate_name
from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.model.token_format import ALPHABET, check_format, generate
from core.store import TokenStore, parse_document, serialize
from core.store.file.format import block_of
from tests.core.core_helpers import FakeClock, SeededBytes

FAST = settings(max_examples=300, deadline=None)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- expiry -------------------------------------------------------------------------------

nows = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
).filter(lambda tz: tz.utcoffset(None) is not None and tz.utcoffset(None).seconds % 60 == 0)
durations = st.builds(
    lambda sign, n, space, unit: f"{sign}{n}{space}{unit}",
    st.sampled_from(["", "", "-", "+"]),
    st.one_of(st.integers(0, 100), st.integers(0, 10**30), st.just("0" * 20 + "1")),
    st.sampled_from(["", " ", "  "]),
    st.sampled_from(["h", "d", "w", "y", "H", "D", "W", "Y", "m", "s", "x", "", "days"]),
)
dates = st.one_of(
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="minutes")),
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(), offsets),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
)
expiry_texts = st.one_of(st.text(), durations, dates, st.sampled_from(["never", "NEVER", ""]))


@FAST
@given(text=expiry_texts, now=nows)
def test_expiry_parser_is_total_and_bounded(text: str, now: datetime) -> None:
    try:
        result = parse_expiry(text, now)
    except InvalidExpiry as exc:
        message = str(exc)
        assert "\n" not in message
        return
    if result is None:
        assert text.strip().lower() == "never"
        return
    assert result.utcoffset() == timedelta(0)
    assert result.microsecond == 0
    assert result > now, "never an instant at or before now"
    assert result - now <= MAX_LIFETIME, "never more than 10 years ahead"


@FAST
@given(count=st.integers(1, 3650), now=nows)
def test_every_day_count_up_to_ten_years_is_accepted(count: int, now: datetime) -> None:
    assert parse_expiry(f"{count}d", now) == now.replace(microsecond=0) + timedelta(days=count)


# --- path normaliser --------------------------------------------------------------------------

PIECES = [
    "/", "//", ".", "..", "/./", "/../", "\\", "%", "%2e", "%2E", "%2f", "%2F", "%5c", "%25",
    "%73", "%53", "%70", "%6d", "%00", "%ff", "%e2%80%ae", "?", "#", ";", ":", " ", "\t", "\n",
    "session", "Session", "pty", "message", "ses", "sion", "s", "global", "health", "http://h",
    "x", "é", "\u202e", "\udcff", "~", "+", "25", "2525", "2e", "73",
]  # fmt: skip
paths = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.text(max_size=40),
    st.lists(st.sampled_from(PIECES), max_size=6).map(lambda p: "/" + "".join(p)),
)
KNOWN_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


def substring_rule(path: str) -> bool:
    """The original PR's rule, on the path as sent (query dropped)."""
    return any(marker in path for marker in INTERACTIVE_MARKERS)


@FAST
@given(raw=paths)
def test_normaliser_is_idempotent_and_canonical(raw: str) -> None:
    once = normalize_path(raw)
    assert normalize_path(once) == once
    assert once.startswith("/")
    assert "//" not in once
    assert all(segment not in (".", "..") for segment in once.split("/"))
    assert all(0x21 <= ord(ch) <= 0x7E for ch in once), "printable ASCII only"


@FAST
@given(raw=paths, method=st.sampled_from(KNOWN_METHODS))
def test_normalisation_never_loosens_the_rule(raw: str, method: str) -> None:
    needs = required_permissions(method, raw)
    assert needs is not None
    # Never looser than the original substring rule on the raw path...
    if substring_rule(request_path(raw)) or substring_rule(request_path(raw).lower()):
        assert Permission.EXECUTE in needs
    # ...nor than the rule on the normalised path a server would route on.
    normal = normalize_path(raw)
    if substring_rule(normal.lower()):
        assert Permission.EXECUTE in needs
    # Deciding on the normalised path instead never asks for more than the raw one.
    assert required_permissions(method, normal) <= needs  # type: ignore[operator]


# --- store round-trip -------------------------------------------------------------------------

times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
permission_sets = st.sets(st.sampled_from(list(Permission)), min_size=1).map(
    lambda s: tuple(sorted(s, key=list(Permission).index))
)


@st.composite
def record_lists(draw: st.DrawFn) -> list[TokenRecord]:
    count = draw(st.integers(0, 6))
    ids = draw(st.lists(st.from_regex(r"[0-9a-z]{8}", fullmatch=True), min_size=count,
                        max_size=count, unique=True))  # fmt: skip
    # Names as a hand-edited file may hold them: any Unicode, controls included.
    names = draw(st.lists(st.text(min_size=1, max_size=80), min_size=count, max_size=count,
                          unique=True))  # fmt: skip
    records = []
    for i in range(count):
        created = draw(times)
        records.append(
            TokenRecord(
                id=ids[i],
                name=names[i],
                permissions=draw(permission_sets),
                created_at=created,
                expires_at=draw(st.none() | times),
                last_used_at=draw(st.none() | times),
                hint=draw(st.text(min_size=1, max_size=64)),
                digest="sha256:" + f"{i:064x}",
                legacy=draw(st.booleans()),
            )
        )
    return records


@FAST
@given(records=record_lists())
def test_records_serialised_are_read_back_equal(records: list[TokenRecord]) -> None:
    data = serialize(records)
    assert parse_document(Path("auth-tokens.json"), data) == tuple(records)


@FAST
@given(
    records=record_lists(),
    note=st.none() | st.text(min_size=1, max_size=200),
    client=st.none() | st.text(max_size=64),
    directories=st.lists(st.text(max_size=20), max_size=3),
)
def test_a_block_is_written_as_json_and_pydantic_write_it(
    records: list[TokenRecord], note: str | None, client: str | None, directories: list[str]
) -> None:
    """format.py writes a token's block field by field: the same text as the standard
    library's indent=2 and as pydantic's, for any text in any field."""
    from core.model import schema

    for plain in records:
        record = dataclasses.replace(
            plain, note=note, last_used_from=client, directories=tuple(directories)
        )
        block = block_of(record)
        for whole in (
            json.dumps(record.to_json(), indent=2, ensure_ascii=False),
            schema.TokenRecord.model_validate(record.to_json()).model_dump_json(indent=2),
        ):
            lines = whole.split("\n")[1:-1]
            assert block == "\n".join("    " + line for line in lines).encode()


valid_names = st.text(min_size=1, max_size=66).filter(lambda s: _valid(s))


def _valid(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


@SLOW
@given(
    names=st.lists(valid_names, max_size=5, unique_by=lambda s: s.strip().casefold()),
    perms=st.lists(permission_sets, min_size=5, max_size=5),
    expiry=st.sampled_from(["never", "1h", "30d", "2w", "10y", "2030-01-01"]),
)
def test_store_round_trip_with_odd_unicode_names(
    names: list[str], perms: list[tuple[Permission, ...]], expiry: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "auth-tokens.json"
        store = TokenStore(path, clock=FakeClock(), token_bytes=SeededBytes(len(names)))
        made = []
        for name, p in zip(names, perms, strict=False):
            try:
                made.append(store.create(name=name, permissions=p, expires=expiry).record)
            except InputError:
                assume(False)  # e.g. a name equal to an earlier token's id
        assert TokenStore(path).tokens() == tuple(made)
        assert [r.name for r in made] == [n.strip() for n in names]


# --- token format -----------------------------------------------------------------------------

OTHER_CHARS = ["-", "_", " ", "é", "\x00", "\uff10"]  # U+FF10: a fullwidth zero


@settings(max_examples=40, deadline=None)
@given(raw=st.binary(min_size=16, max_size=16))
def test_every_token_parses_and_every_single_edit_is_rejected(raw: bytes) -> None:
    token = generate(lambda n: raw).reveal()
    assert len(token) == 33
    assert check_format(token) is None
    for i, original in enumerate(token):
        for ch in (*ALPHABET, *OTHER_CHARS):
            if ch != original:
                assert check_format(token[:i] + ch + token[i + 1 :]) is not None, (i, ch)
        assert check_format(token[:i] + token[i + 1 :]) is not None
    for i in range(len(token) + 1):
        for ch in (*ALPHABET, *OTHER_CHARS):
            assert check_format(token[:i] + ch + token[i:]) is not None
