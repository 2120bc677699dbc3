"""Which permissions an HTTP request needs. Pure functions, no I/O.

    GET, HEAD, OPTIONS          -> read
    POST, PUT, PATCH, DELETE    -> write
    any other method            -> refused (None): fail closed
    path contains /pty, /session or /message -> execute as well
    GET/HEAD /global/health     -> public (exactly that path, nothing else)

The interactive markers are matched, case-insensitively, against *every* reading
of the path a server might route on: the raw path, each percent-decoding pass,
backslashes read as slashes, and the fully normalised path with `.`/`..`
resolved - each also with tabs and newlines deleted, as URL parsers do. The
union can only add `execute`, so no trick of encoding or dot segments makes a
request need less than the original substring rule on the raw path - the
original PR's rule, which this must never be looser than.
"""

from __future__ import annotations

import functools
import re

from core.model.permissions import Permission

READ, WRITE, EXECUTE = Permission.READ, Permission.WRITE, Permission.EXECUTE

INTERACTIVE_MARKERS = ("/pty", "/session", "/message")
PUBLIC_PATH = "/global/health"
PUBLIC_METHODS = frozenset({"GET", "HEAD"})

_METHOD_PERMISSION = {
    "GET": READ,
    "HEAD": READ,
    "OPTIONS": READ,
    "POST": WRITE,
    "PUT": WRITE,
    "PATCH": WRITE,
    "DELETE": WRITE,
}
# WHATWG URL parsers (Bun, Node, browsers) delete tabs and newlines anywhere in a
# URL before parsing it, so `/ses<TAB>sion` is routed as `/session`.
_IGNORED_BY_URL_PARSERS = str.maketrans("", "", "\t\n\r")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ABSOLUTE_FORM = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_MAX_DECODE_ROUNDS = 8
# Left as they are when the normalised path is re-encoded; everything else
# (%, ?, #, spaces, controls, non-ASCII) is percent-encoded, so the result is
# printable and normalising it again changes nothing.
_SAFE = "/!$&'()*+,;=:@-._~"
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9" + re.escape(_SAFE) + "]+")
_UNSAFE_RUN_KEEPING_ESCAPES = re.compile(r"[^A-Za-z0-9%" + re.escape(_SAFE) + "]+")
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_ALWAYS_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SAFE_BYTES = {
    _UNSAFE_RUN: _ALWAYS_SAFE + _SAFE.encode(),
    _UNSAFE_RUN_KEEPING_ESCAPES: _ALWAYS_SAFE + _SAFE.encode() + b"%",
}


def _unquote(text: str) -> str:
    """`urllib.parse.unquote(text, errors="replace")`, at C speed: each run of
    escapes becomes its bytes, decoded as UTF-8 (U+FFFD where they are not); a
    `%` that starts no escape stays. urllib splits the text the same way (a run
    ends where an escape does), but walks it escape by escape in Python."""
    if "%" not in text:
        return text
    return _ESCAPE_RUN.sub(_unquote_run, text)


def _unquote_run(match: re.Match[str]) -> str:
    return bytes.fromhex(match.group().replace("%", "")).decode("utf-8", "replace")


def _quote(text: str, pattern: re.Pattern[str] = _UNSAFE_RUN) -> str:
    """`urllib.parse.quote(text, safe=_SAFE)` (UTF-8, upper-case hex), at C speed.
    Text that needs no escape is returned as it is, found as urllib finds it: the
    bytes stripped of every safe one leave nothing."""
    if text.isascii() and not text.encode("ascii").rstrip(_SAFE_BYTES[pattern]):
        return text
    return pattern.sub(_quote_run, text)


def _quote_run(match: re.Match[str]) -> str:
    return "%" + match.group().encode("utf-8").hex("%").upper()


def request_path(raw: str) -> str:
    """The path part of a request target: query and fragment dropped, and the
    scheme and authority of an absolute-form target (`http://host/x`) removed."""
    target = _ABSOLUTE_FORM.sub("", raw, count=1)
    for sep in ("?", "#"):
        cut = target.find(sep)
        if cut != -1:
            target = target[:cut]
    return target


@functools.lru_cache(maxsize=16)
def _decoding_passes(path: str) -> tuple[str, ...]:
    """The path and each percent-decoding of it, until one changes nothing.
    Kept for the last few paths: one request asks for them twice (its readings
    for the execute rule, and its normalised form)."""
    passes = [path]
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = _unquote(passes[-1])
        if decoded == passes[-1]:
            break
        passes.append(decoded)
    return tuple(passes)


def _resolve(path: str) -> str:
    segments: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def _needs_work(path: str) -> bool:
    """Whether a path could read differently once decoded, resolved or cleaned:
    it holds `%`, `\\`, a tab or newline, `/.` or `//` (substring searches, which
    are much faster than one regular expression over a long path)."""
    return (
        "%" in path
        or "\\" in path
        or "\t" in path
        or "\n" in path
        or "\r" in path
        or "/." in path
        or "//" in path
    )


def path_readings(raw: str) -> tuple[str, ...]:
    """Every reading of the path the execute rule is checked against (decoded form)."""
    path = request_path(raw)
    if path.startswith("/") and not _needs_work(path):
        return (path,)
    readings: list[str] = []
    for variant in dict.fromkeys((path, path.translate(_IGNORED_BY_URL_PARSERS))):
        passes = _decoding_passes(variant)
        readings += passes
        readings += (p.replace("\\", "/") for p in passes)
        readings.append(_resolve(passes[-1]))
    return tuple(readings)


def normalize_path(raw: str) -> str:
    """The canonical path: no query, fully percent-decoded, `\\` read as `/`, no
    empty or `.`/`..` segments, then re-encoded so it is printable ASCII. Idempotent.

    Only for showing and forwarding: the execute rule is checked against every
    reading of the path (`path_readings`), not just this one."""
    path = request_path(raw)
    decoded = _decoding_passes(path)[-1]
    if _PERCENT_ESCAPE.search(decoded):
        # Still encoded after every decoding round allowed: no client nests
        # encodings this deep. Disarm the rest, or normalising the result again
        # would decode further (not idempotent).
        decoded = decoded.replace("%", "\ufffd")
    # Lone surrogates cannot be encoded as UTF-8 and would not survive a
    # second pass either.
    if not decoded.isascii():
        decoded = _SURROGATE.sub("\ufffd", decoded)
    return _quote(_resolve(decoded))


def method_permission(method: str) -> Permission | None:
    """The permission a method needs on any path, or None if it is refused."""
    return _METHOD_PERMISSION.get(method)


SHORT_PATH = 256
"""The longest path worked on (decoded, routed) for a request that has no valid
token yet; a longer one is only shown, cut (`shown_path`)."""


def logged_path(raw: str) -> str:
    """The path for a log line, with work bounded whatever `raw` holds: normalised
    when at most SHORT_PATH characters, else its start, undecoded."""
    path = request_path(raw)
    if len(path) <= SHORT_PATH:
        return normalize_path(raw)
    return shown_path(path, SHORT_PATH)


def shown_path(path: str, limit: int) -> str:
    """At most `limit` characters of a path, printable, for a log line: no decoding
    (bounded work whatever the path holds), cut with `...` when longer."""
    shown = path[:limit]
    if not shown.isascii():  # undecodable bytes arrive as lone surrogates
        shown = _SURROGATE.sub("\ufffd", shown)
    shown = _quote(shown, _UNSAFE_RUN_KEEPING_ESCAPES)
    return shown + "..." if len(path) > limit else shown


def is_interactive(raw: str) -> bool:
    return any(
        marker in reading.lower()
        for reading in path_readings(raw)
        for marker in INTERACTIVE_MARKERS
    )


def is_public(method: str, raw: str) -> bool:
    """Only GET/HEAD of exactly `/global/health` (optionally with a query)."""
    if method not in PUBLIC_METHODS:
        return False
    # An origin-form target is public only if it starts with the path; an
    # absolute-form one (`http://host/global/health`) must at least hold it.
    if not raw.startswith(PUBLIC_PATH) and (raw.startswith("/") or PUBLIC_PATH not in raw):
        return False
    return request_path(raw) == PUBLIC_PATH


def required_permissions(method: str, raw: str) -> frozenset[Permission] | None:
    """What a request needs, or None if its method is refused outright.

    Methods are case-sensitive, as in HTTP: `get` is not `GET` and is refused.
    """
    base = _METHOD_PERMISSION.get(method)
    if base is None:
        return None
    if is_interactive(raw):
        return frozenset((base, EXECUTE))
    return frozenset((base,))
