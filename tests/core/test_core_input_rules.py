"""SPEC "Input rules": names, permissions and expiry. Bad input gets a typed error
with a one-line, terminal-safe message, and the store is not touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.model.errors import (
    DuplicateName,
    InputError,
    InvalidExpiry,
    InvalidName,
    InvalidPermissions,
)
from core.model.expiry import MAX_LIFETIME, lifetime_of, parse_expiry
from core.model.names import validate_name
from core.model.permissions import Permission, parse_permissions
from core.model.text import is_unsafe_char
from core.model.token_format import generate, new_id
from core.store import TokenStore
from tests.core.core_helpers import T0, T0_S, FakeClock, SeededBytes

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE


def assert_safe_message(err: BaseException) -> None:
    """One line, no raw control or bidi character a terminal would act on."""
    text = str(err)
    assert "\n" not in text
    assert not any(is_unsafe_char(ch) for ch in text), repr(text)


# --- names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ci", "ci"),
        ("  laptop  ", "laptop"),
        ("\tbuild server\n", "build server"),
        ("x" * 64, "x" * 64),
        ("  " + "y" * 64 + "  ", "y" * 64),  # the limit applies after trimming
        ("Ünïcødé 日本語 🚀", "Ünïcødé 日本語 🚀"),
        ("a", "a"),
    ],
)
def test_valid_names_are_trimmed(raw: str, clean: str) -> None:
    assert validate_name(raw) == clean


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n ", "empty"),
        ("x" * 65, "65 characters"),
        ("a\x00b", "U+0000"),  # C0
        ("a\x07b", "U+0007"),
        ("a\nb", "U+000A"),
        ("a\x85b", "U+0085"),  # C1 (NEL)
        ("a\x9bb", "U+009B"),  # C1 CSI
        ("a\x7fb", "U+007F"),  # DEL
        ("\x1b[31mred", "U+001B"),  # an ESC sequence
        ("x\x1b]0;title\x07", "U+001B"),  # OSC: set the terminal title
        ("abc\u202edcba", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE
        ("abc\u2066x\u2069", "U+2066"),  # isolate
        ("a\u2028b", "U+2028"),  # line separator
    ],
)
def test_invalid_names(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidName, match=fragment.replace("+", r"\+")) as info:
        validate_name(raw)
    assert_safe_message(info.value)
    assert isinstance(info.value, InputError)


def test_invalid_name_leaves_no_store_behind(store: TokenStore) -> None:
    with pytest.raises(InvalidName):
        store.create(name="evil\x1b[2J")
    assert not store.path.exists()


def test_invalid_name_does_not_change_an_existing_store(store: TokenStore) -> None:
    store.create(name="first")
    before = store.path.read_bytes()
    for bad in ("", " ", "x" * 65, "\x1b[0m", "a\u202eb", "a\x7f"):
        with pytest.raises(InvalidName):
            store.create(name=bad)
    assert store.path.read_bytes() == before


@pytest.mark.parametrize("second", ["CI", "ci", "  Ci ", "cI"])
def test_duplicate_names_are_case_insensitive(store: TokenStore, second: str) -> None:
    store.create(name="ci")
    before = store.path.read_bytes()
    with pytest.raises(DuplicateName, match="already exists") as info:
        store.create(name=second)
    assert_safe_message(info.value)
    assert store.path.read_bytes() == before


def test_duplicate_check_uses_casefold_not_lower(store: TokenStore) -> None:
    store.create(name="Straße")
    with pytest.raises(DuplicateName):
        store.create(name="STRASSE")


def test_name_equal_to_another_tokens_id_is_refused(store: TokenStore) -> None:
    other = store.create(name="other").record
    before = store.path.read_bytes()
    with pytest.raises(DuplicateName, match="id"):
        store.create(name=other.id)
    assert store.path.read_bytes() == before


def test_omitted_names_are_generated_and_unique(store: TokenStore) -> None:
    names = [store.create().record.name for _ in range(3)]
    assert names == ["token-1", "token-2", "token-3"]
    store.delete(["token-1"])
    assert store.create().record.name == "token-4"


def test_generated_name_never_collides_with_a_hand_written_one(
    store: TokenStore, store_path: Path
) -> None:
    # Regression: with a hand-edited "TOKEN-1" in the file, the generator picked
    # "token-1" (its pattern was case-sensitive), a case-insensitive duplicate.
    store.create(name="keep")
    text = store_path.read_text().replace('"keep"', '"TOKEN-1"')
    store_path.write_text(text)
    made = store.create().record.name
    assert made.casefold() != "token-1"
    names = [r.name.casefold() for r in store.tokens()]
    assert len(names) == len(set(names))


def test_generated_id_never_equals_an_existing_name(store_path: Path, clock: FakeClock) -> None:
    # Regression: ids were only kept apart from other ids, so a new token could
    # get an id equal to an existing token's *name*; `delete <that name>` then
    # deleted the new token instead.
    probe = SeededBytes(99)
    generate(probe)
    upcoming = new_id(probe)  # the first id a store seeded with 99 draws
    TokenStore(store_path, clock=clock, token_bytes=SeededBytes(5)).create(name=upcoming)
    seeded = TokenStore(store_path, clock=clock, token_bytes=SeededBytes(99))
    new = seeded.create(name="second").record
    assert new.id != upcoming
    assert seeded.get(upcoming).name == upcoming


# --- permissions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("read", (R,)),
        ("READ", (R,)),
        ("Read,Write", (R, W)),
        (" read , execute ", (R, X)),
        ("execute,write,read", (R, W, X)),  # always in the canonical order
        ("read,read", (R,)),  # duplicates are collapsed, not refused
        ("write, WRITE ,write", (W,)),
        ("read,write,execute", (R, W, X)),
    ],
)
def test_permissions_parse(text: str, expected: tuple[Permission, ...]) -> None:
    assert parse_permissions(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "at least one"),
        ("   ", "at least one"),
        (",", "at least one"),
        ("read,", "empty item"),
        ("read,,write", "empty item"),
        (",read", "empty item"),
        ("admin", "unknown permission 'admin'"),
        ("read,exec", "unknown permission 'exec'"),
        ("readwrite", "unknown permission"),
        ("read write", "unknown permission"),
        ("r", "unknown permission"),
        ("read;write", "unknown permission"),
        ("read,\x1b[2J", "unknown permission"),
    ],
)
def test_permissions_rejected(text: str, fragment: str) -> None:
    with pytest.raises(InvalidPermissions, match=fragment) as info:
        parse_permissions(text)
    assert_safe_message(info.value)


def test_permissions_in_the_store(store: TokenStore) -> None:
    assert store.create().record.permissions == (R, W, X)  # default: all three
    assert store.create(permissions="EXECUTE, read").record.permissions == (R, X)
    assert store.create(permissions=[X, W, X]).record.permissions == (W, X)
    before = store.path.read_bytes()
    with pytest.raises(InvalidPermissions):
        store.create(permissions=[])
    with pytest.raises(InvalidPermissions):
        store.create(permissions="")
    assert store.path.read_bytes() == before


# --- expiry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("12h", timedelta(hours=12)),
        ("1h", timedelta(hours=1)),
        ("30d", timedelta(days=30)),
        ("90d", timedelta(days=90)),
        ("2w", timedelta(weeks=2)),
        ("1y", timedelta(days=365)),
        ("10y", timedelta(days=3650)),  # exactly the maximum
        ("3650d", timedelta(days=3650)),
        ("87600h", timedelta(hours=87600)),
        ("5D", timedelta(days=5)),
        (" 7d ", timedelta(days=7)),
        ("7 d", timedelta(days=7)),
        ("007d", timedelta(days=7)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    # The clock has microseconds; expiry instants are whole seconds.
    assert parse_expiry(text, T0) == T0_S + delta


@pytest.mark.parametrize("text", ["never", "NEVER", " Never "])
def test_never(text: str) -> None:
    assert parse_expiry(text, T0) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0d", "at least 1 day"),
        ("0h", "at least 1 hour"),
        ("000w", "at least 1 week"),
        ("-1d", "future"),
        ("-5", "no unit"),
        ("5", "no unit"),
        ("+5", "no unit"),
        ("1.5d", "not understood"),
        ("5m", "unknown unit 'm'"),
        ("5s", "unknown unit"),
        ("5days", "unknown unit"),
        ("d", "not understood"),
        ("3651d", "10-year maximum"),
        ("11y", "10-year maximum"),
        ("522w", "10-year maximum"),
        ("87601h", "10-year maximum"),
        ("9999999d", "10-year maximum"),
        ("99999999999999999999999999999999y", "10-year maximum"),
        pytest.param("1" * 5000 + "d", "10-year maximum", id="5000-digit-count"),
        ("tomorrow", "not understood"),
        ("forever", "not understood"),
        ("\x1b[31m30d", "not understood"),
    ],
)
def test_bad_expiry(text: str, fragment: str) -> None:
    with pytest.raises(InvalidExpiry, match=fragment) as info:
        parse_expiry(text, T0)
    assert_safe_message(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A bare date is the start of that day in UTC.
        ("2026-01-16", datetime(2026, 1, 16, tzinfo=UTC)),
        ("2027-02-28", datetime(2027, 2, 28, tzinfo=UTC)),
        ("2028-02-29", datetime(2028, 2, 29, tzinfo=UTC)),
        # A date-time without an offset is UTC.
        ("2026-02-01T10:00", datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("2026-02-01 10:00:30", datetime(2026, 2, 1, 10, 0, 30, tzinfo=UTC)),
        ("2026-02-01T10:00:00.999999", datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("2026-02-01T10:00:00Z", datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("2026-02-01T10:00:00z", datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("2026-02-01T10:00+02:00", datetime(2026, 2, 1, 8, tzinfo=UTC)),
        ("2026-02-01T10:00-0530", datetime(2026, 2, 1, 15, 30, tzinfo=UTC)),
        ("2026-01-15T12:34:58Z", datetime(2026, 1, 15, 12, 34, 58, tzinfo=UTC)),
    ],
)
def test_future_dates(text: str, expected: datetime) -> None:
    result = parse_expiry(text, T0)
    assert result == expected
    assert result is not None and result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2020-01-01", "not in the future"),
        ("2026-01-15", "not in the future"),  # today: midnight has passed
        ("2026-01-15T12:34:56Z", "not in the future"),  # now (to the second)
        ("2026-01-15T12:34:56.999Z", "not in the future"),
        ("2026-01-15T14:00+02:00", "not in the future"),  # 12:00Z
        ("2036-01-16", "more than 10 years"),
        ("9999-12-31", "more than 10 years"),
        ("2026-02-30", "not understood"),
        ("2026-13-01", "not understood"),
        ("2026-00-10", "not understood"),
        ("2026-1-1", "not understood"),
        ("26-01-01", "not understood"),
        ("2026-02-01T25:00", "not understood"),
        ("2026-02-01T10:00+25:00", "not understood"),
        ("2026-06-30T23:59:60Z", "not understood"),  # no leap seconds
        ("2026-02-01T10:00 UTC", "not understood"),
        ("0001-01-01T00:00+01:00", "not understood"),  # would underflow
        ("9999-12-31T23:59-01:00", "not understood"),  # would overflow
        ("2026-02-01Tx", "not understood"),
    ],
)
def test_bad_dates(text: str, fragment: str) -> None:
    with pytest.raises(InvalidExpiry, match=fragment):
        parse_expiry(text, T0)


def test_default_expiry_is_90_days(store: TokenStore) -> None:
    record = store.create().record
    assert record.created_at == T0_S
    assert record.expires_at == T0_S + timedelta(days=90)


def test_bad_expiry_changes_nothing(store: TokenStore) -> None:
    store.create(name="a")
    before = store.path.read_bytes()
    for bad in ("0d", "-1d", "2020-01-01", "11y", "soon"):
        with pytest.raises(InvalidExpiry):
            store.create(name="b", expires=bad)
    assert store.path.read_bytes() == before


def test_max_lifetime_is_ten_years() -> None:
    assert timedelta(days=3650) == MAX_LIFETIME


@pytest.mark.parametrize(
    ("lifetime", "spec"),
    [
        (timedelta(days=90), "90d"),
        (timedelta(hours=12), "12h"),
        (timedelta(days=1, hours=1), "25h"),
        (timedelta(minutes=5), "1h"),  # never below an hour
        (timedelta(days=3650), "3650d"),
        (timedelta(days=9000), "3650d"),  # hand-edited: capped, still parseable
        (timedelta(days=9000, hours=3), "3650d"),
    ],
)
def test_lifetime_of_reproduces_a_parseable_lifetime(lifetime: timedelta, spec: str) -> None:
    # Regression: a lifetime over 10 years that is not whole days produced
    # e.g. "216003h", which the parser then refused, so rotate failed with an
    # expiry error about input the user never typed.
    assert lifetime_of(T0_S, T0_S + lifetime) == spec
    assert parse_expiry(spec, T0) is not None
    assert lifetime_of(T0_S, None) == "never"


@pytest.mark.parametrize(
    "invisible", ["\u200b", "\u200d", "\ufeff", "\u00ad", "\u2060", "\U000e0041"]
)
def test_invisible_format_characters_are_refused(invisible: str) -> None:
    """Two names must never look the same while differing (SPEC: plain text)."""
    with pytest.raises(InvalidName, match=f"U\\+{ord(invisible):04X}") as info:
        validate_name(f"ci{invisible}")
    assert_safe_message(info.value)


def test_every_format_and_control_character_is_unsafe() -> None:
    """The hand-written character class covers this Python's Unicode tables."""
    import sys
    import unicodedata

    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Zl", "Zp")
        and not is_unsafe_char(chr(code))
    ]
    assert missing == []
    assert not any(is_unsafe_char(ch) for ch in "plain ASCII, café, 名前, 👩\U0001f3fd")
