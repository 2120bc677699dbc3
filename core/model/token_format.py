"""The token text format, after GitHub's 2021 format.

    ocat_ + base62(128 random bits, 22 chars) + base62(CRC32(text before), 6 chars)

33 characters. The prefix tells people and secret scanners what the string is; the
checksum lets a typo or a truncated paste be rejected offline, before any store
lookup. Browser session ids (`ocsess_`, what the cookie holds) and pairing codes
(`ocpair_`, what a pairing link holds) are the same format under their own prefix
(35 characters), so a secret of one kind never passes for another. The alphabet
is ASCII-ordered (0-9, A-Z, a-z), so for fixed-width strings lexicographic order
equals numeric order - used to reject non-canonical values without converting to
an integer.

Only a SHA-256 digest of the full token text is stored. 128 random bits need no
slow KDF: nothing can be brute-forced back from the digest.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from enum import StrEnum

from core.model.clock import TokenBytes

PREFIX = "ocat_"
SESSION_PREFIX = "ocsess_"
PAIRING_PREFIX = "ocpair_"
_PREFIXES = (PREFIX, SESSION_PREFIX, PAIRING_PREFIX)
ENTROPY_BITS = 128
ENTROPY_LEN = 22
CHECKSUM_LEN = 6
TOKEN_LEN = len(PREFIX) + ENTROPY_LEN + CHECKSUM_LEN  # 33
HINT_CHARS = 4
DIGEST_PREFIX = "sha256:"

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LEN = 8

_BODY_RE = re.compile(rf"[0-9A-Za-z]{{{ENTROPY_LEN + CHECKSUM_LEN}}}")


def base62(value: int, width: int) -> str:
    """Encode a non-negative int in base62, zero-padded to exactly `width` chars."""
    if value < 0:
        raise ValueError("base62 takes non-negative integers")
    chars = []
    while value:
        value, rem = divmod(value, 62)
        chars.append(ALPHABET[rem])
    if len(chars) > width:
        raise ValueError(f"value does not fit in {width} base62 characters")
    return "".join(reversed(chars)).rjust(width, "0")


_MAX_ENTROPY_TEXT = base62(2**ENTROPY_BITS - 1, ENTROPY_LEN)


_PAIRS = tuple(a + b for a in ALPHABET for b in ALPHABET)  # base62 of 0..3843, 2 chars


def checksum(text: str) -> str:
    """Base62 CRC32 of `text` (the prefix and entropy), 6 characters.

    Same result as `base62(crc, 6)`, two digits at a time: it runs on every
    authorization, and a CRC32 is below 62**6.
    """
    high, low = divmod(zlib.crc32(text.encode("ascii")), 3844)
    top, mid = divmod(high, 3844)
    return _PAIRS[top] + _PAIRS[mid] + _PAIRS[low]


class FormatProblem(StrEnum):
    """Why a string is not a well-formed token; values are authorization reasons."""

    MALFORMED = "malformed"
    BAD_CHECKSUM = "bad_checksum"


def check_format(token: str, prefix: str = PREFIX) -> FormatProblem | None:
    """None if `token` is a well-formed secret of the kind `prefix` names (an
    ocat_ token by default), else what is wrong with it.

    Wrong prefix, length or alphabet, or an entropy part above 2^128-1, is
    `malformed`; a checksum that does not match is `bad_checksum`.
    """
    if len(token) != len(prefix) + ENTROPY_LEN + CHECKSUM_LEN or not token.startswith(prefix):
        return FormatProblem.MALFORMED
    body = token[len(prefix) :]
    if _BODY_RE.fullmatch(body) is None:
        return FormatProblem.MALFORMED
    entropy = body[:ENTROPY_LEN]
    if entropy > _MAX_ENTROPY_TEXT:
        return FormatProblem.MALFORMED
    if checksum(prefix + entropy) != body[ENTROPY_LEN:]:
        return FormatProblem.BAD_CHECKSUM
    return None


def looks_like_ocat(token: str) -> bool:
    """True if the string claims to be an ocat_ token (and so must pass check_format)."""
    return token.startswith(PREFIX)


LEGACY_MAX_LEN = 512
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def usable_legacy_secret(token: str) -> bool:
    """Whether a PR #8217 secret can still be presented as a bearer token.

    It must be an RFC 6750 `token68` of at most 512 characters and must not start
    with `ocat_` (anything that does has to be a well-formed ocat_ token).
    """
    return (
        len(token) <= LEGACY_MAX_LEN
        and not looks_like_ocat(token)
        and _TOKEN68.fullmatch(token) is not None
    )


@dataclass(frozen=True, slots=True, repr=False, eq=False, weakref_slot=True)
class Secret:
    """A token secret that will not print itself.

    `repr`/`str` show only the non-secret hint, so a secret that ends up in a log
    line, an exception or a traceback by mistake does not leak. Call `reveal()`
    where the text is meant to be shown (once, at creation). Weak-referenceable
    so tests can prove a UI dropped every reference once it was done.
    """

    _value: str

    def reveal(self) -> str:
        return self._value

    @property
    def hint(self) -> str:
        return make_hint(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.hint!r})"

    __str__ = __repr__


def generate(token_bytes: TokenBytes, prefix: str = PREFIX) -> Secret:
    """A new secret from 16 bytes of the injected CSPRNG: a token, or a session id
    or pairing code with their prefix."""
    raw = token_bytes(ENTROPY_BITS // 8)
    if len(raw) != ENTROPY_BITS // 8:
        raise ValueError("token_bytes returned the wrong number of bytes")
    head = prefix + base62(int.from_bytes(raw, "big"), ENTROPY_LEN)
    return Secret(head + checksum(head))


def digest(token: str) -> str:
    """What the store keeps: `sha256:<hex>` of the full token text."""
    return DIGEST_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def make_hint(token: str) -> str:
    """A short non-secret label: the prefix and the last four characters.

    For ocat_ tokens the last characters are checksum characters; together they
    narrow the 128-bit secret by under 24 bits, which leaves more than 104 bits.
    Legacy tokens (any text) show their last four characters the same way, but
    only when that is at most a quarter of the secret: the hint is written to
    disk, and a short hand-made secret must not end up there whole.
    """
    head = next((p for p in _PREFIXES if token.startswith(p)), "")
    tail = token[-HINT_CHARS:] if len(token) >= 4 * HINT_CHARS else ""
    return f"{head}…{tail}"


def new_id(token_bytes: TokenBytes) -> str:
    """A short public id: 8 lowercase base36 characters (about 41 bits)."""
    value = int.from_bytes(token_bytes(8), "big")
    chars = []
    for _ in range(ID_LEN):
        value, rem = divmod(value, 36)
        chars.append(_ID_ALPHABET[rem])
    return "".join(chars)


ID_PATTERN = rf"^[0-9a-z]{{{ID_LEN}}}$"
