"""The token text format: ocat_ + 22 base62 entropy chars + 6 base62 CRC32 chars."""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
import zlib
from collections.abc import Callable

import pytest

from core.model.token_format import (
    ID_PATTERN,
    FormatProblem,
    Secret,
    check_format,
    digest,
    generate,
    make_hint,
    new_id,
)
from tests.core.core_helpers import SeededBytes

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def ref_base62(value: int, width: int) -> str:
    """An independent base62 encoder (most significant digit first, zero-padded)."""
    digits = ""
    for _ in range(width):
        value, rem = divmod(value, 62)
        digits = ALPHABET[rem] + digits
    assert value == 0, "does not fit"
    return digits


def ref_token(raw: bytes) -> str:
    head = "ocat_" + ref_base62(int.from_bytes(raw, "big"), 22)
    return head + ref_base62(zlib.crc32(head.encode()), 6)


def fixed(raw: bytes) -> Callable[[int], bytes]:
    def token_bytes(n: int) -> bytes:
        assert n == 16, "a token takes exactly 128 bits"
        return raw

    return token_bytes


@pytest.mark.parametrize(
    "raw",
    [bytes(16), b"\xff" * 16, bytes(range(16)), b"\x00" * 15 + b"\x01", b"\x80" + bytes(15)],
)
def test_generated_token_matches_the_reference_format(raw: bytes) -> None:
    token = generate(fixed(raw)).reveal()
    assert token == ref_token(raw)
    assert len(token) == 33
    assert token.startswith("ocat_")
    assert set(token[5:]) <= set(ALPHABET)
    assert check_format(token) is None


def test_entropy_is_zero_padded_to_22_characters() -> None:
    token = generate(fixed(bytes(16))).reveal()
    assert token[5:27] == "0" * 22


def test_generate_refuses_a_short_random_source() -> None:
    with pytest.raises(ValueError, match="wrong number of bytes"):
        generate(lambda n: bytes(n - 1))


def test_generated_tokens_differ_with_the_system_source() -> None:
    from core.model.clock import system_token_bytes

    tokens = {generate(system_token_bytes).reveal() for _ in range(200)}
    assert len(tokens) == 200


GOOD = ref_token(bytes(range(16)))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", FormatProblem.MALFORMED),
        ("ocat_", FormatProblem.MALFORMED),
        (GOOD[:-1], FormatProblem.MALFORMED),  # 32 chars
        (GOOD + "0", FormatProblem.MALFORMED),  # 34 chars
        ("OCAT_" + GOOD[5:], FormatProblem.MALFORMED),  # prefix is case-sensitive
        ("ocat-" + GOOD[5:], FormatProblem.MALFORMED),
        ("xcat_" + GOOD[5:], FormatProblem.MALFORMED),
        (GOOD[:10] + "-" + GOOD[11:], FormatProblem.MALFORMED),  # outside the alphabet
        (GOOD[:10] + "_" + GOOD[11:], FormatProblem.MALFORMED),
        (GOOD[:10] + " " + GOOD[11:], FormatProblem.MALFORMED),
        (GOOD[:10] + "é" + GOOD[11:], FormatProblem.MALFORMED),
        (GOOD[:10] + "\uff10" + GOOD[11:], FormatProblem.MALFORMED),  # fullwidth digit
        (GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1"), FormatProblem.BAD_CHECKSUM),
        (GOOD[:5] + ("1" if GOOD[5] != "1" else "2") + GOOD[6:], FormatProblem.BAD_CHECKSUM),
    ],
)
def test_check_format_rejects(text: str, problem: FormatProblem) -> None:
    assert check_format(text) is problem


def test_entropy_above_2_to_the_128_is_malformed_even_with_a_valid_checksum() -> None:
    top = "ocat_" + ref_base62(2**128 - 1, 22)
    assert check_format(top + ref_base62(zlib.crc32(top.encode()), 6)) is None
    over = "ocat_" + ref_base62(2**128, 22)
    assert check_format(over + ref_base62(zlib.crc32(over.encode()), 6)) is FormatProblem.MALFORMED
    biggest = "ocat_" + "z" * 22
    assert (
        check_format(biggest + ref_base62(zlib.crc32(biggest.encode()), 6))
        is FormatProblem.MALFORMED
    )


# --- Secret never prints itself -----------------------------------------------


def test_secret_does_not_print_itself_anywhere() -> None:
    secret = generate(fixed(bytes(range(16))))
    text = secret.reveal()
    body = text[5:27]
    renderings = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret!a}",
        "%s" % secret,  # noqa: UP031 - the old formatting path must be safe too
        "%r" % secret,  # noqa: UP031
        format(secret, ""),
        str([secret]),
        str({"token": secret}),
        str(ValueError(secret)),
        str(ValueError("bad token", secret)),
    ]
    for shown in renderings:
        assert text not in shown
        assert body not in shown
        assert text[-4:] in shown  # the hint, not an empty or broken rendering


def test_secret_in_an_exception_traceback_and_a_log_line_is_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = generate(fixed(b"\x42" * 16))
    try:
        raise RuntimeError(f"failed for {secret}", secret)
    except RuntimeError as exc:
        rendered = "".join(traceback.format_exception(exc))
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("issued %s / %r", secret, secret)
    for shown in (rendered, caplog.text):
        assert secret.reveal() not in shown
        assert secret.hint in shown


def test_secret_shows_only_the_hint_and_reveals_on_request() -> None:
    secret = generate(fixed(bytes(range(16))))
    assert secret.reveal() == ref_token(bytes(range(16)))
    assert secret.hint == "ocat_…" + secret.reveal()[-4:]
    assert repr(secret) == f"Secret({secret.hint!r})"
    with pytest.raises(TypeError):
        format(secret, ">40")  # no format spec can smuggle the text out


def test_secret_has_no_dict_and_no_value_equality() -> None:
    a = Secret(GOOD)
    b = Secret(GOOD)
    assert not hasattr(a, "__dict__")
    assert a != b  # identity only: no comparing secrets with ==, which is not constant-time


# --- digest, hint, id -----------------------------------------------------------


def test_digest_is_sha256_of_the_full_token_text() -> None:
    assert digest(GOOD) == "sha256:" + hashlib.sha256(GOOD.encode()).hexdigest()
    assert digest(GOOD) != digest(GOOD[:-1] + "x")
    assert GOOD not in digest(GOOD)


def test_hint_is_prefix_and_last_four_characters() -> None:
    assert make_hint(GOOD) == "ocat_…" + GOOD[-4:]
    assert GOOD[5:27] not in make_hint(GOOD)
    # A legacy (PR #8217) secret long enough to spare four characters.
    legacy = "0123456789abcdef0123456789abcdef"
    assert make_hint(legacy) == "…cdef"


@pytest.mark.parametrize("secret", ["a", "abcd", "abcdefgh", "0123456789abcde"])
def test_hint_of_a_short_legacy_secret_does_not_give_it_away(secret: str) -> None:
    # Regression: the hint used to be the last four characters whatever the
    # length, so a 4-character legacy secret was stored on disk in full.
    hint = make_hint(secret)
    revealed = hint.removeprefix("…")
    assert len(revealed) * 4 <= len(secret), hint


def test_ids_are_short_base36_and_follow_the_random_source() -> None:
    first = new_id(lambda n: bytes(n))
    assert first == "00000000"
    other = new_id(lambda n: b"\x01" * n)
    assert other != first
    seen = set()
    for seed in range(50):
        value = new_id(SeededBytes(seed))
        assert re.fullmatch(ID_PATTERN, value)
        assert len(value) == 8
        seen.add(value)
    assert len(seen) == 50
