"""Which permissions a request needs, and the path normaliser behind it."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.authz import rules
from core.authz.rules import is_public, normalize_path, request_path, required_permissions
from core.model.permissions import Permission

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE


@pytest.mark.parametrize(
    ("method", "needs"),
    [
        ("GET", {R}),
        ("HEAD", {R}),
        ("OPTIONS", {R}),
        ("POST", {W}),
        ("PUT", {W}),
        ("PATCH", {W}),
        ("DELETE", {W}),
    ],
)
def test_method_table(method: str, needs: set[Permission]) -> None:
    assert required_permissions(method, "/file") == frozenset(needs)
    assert required_permissions(method, "/session/1") == frozenset(needs | {X})


@pytest.mark.parametrize(
    "method",
    ["TRACE", "CONNECT", "PROPFIND", "MKCOL", "LOCK", "FOO", "", "get", "Get", "post", " GET"],
)
def test_other_methods_are_refused_outright(method: str) -> None:
    assert required_permissions(method, "/file") is None
    assert required_permissions(method, "/global/health") is None


# The raw target, and whether it needs execute. The rule: a path containing /pty,
# /session or /message (any case) in any reading a server might route on.
EXECUTE_CASES = [
    ("/session", True),
    ("/session/abc/message", True),
    ("/pty", True),
    ("/pty/1/connect", True),
    ("/message", True),
    ("/api/messages", True),  # the original substring rule: /messages contains /message
    ("/ptyx", True),
    ("/sessions", True),
    ("/file", False),
    ("/config", False),
    ("/", False),
    ("/xsession", False),  # no slash before: not the marker
    ("/file/session", True),
    # dot segments and traversal
    ("/global/../session", True),
    ("/global/./session", True),
    ("/a/b/../../session", True),
    ("/../session", True),
    ("/session/..", True),  # raw path contains /session: never looser than the raw rule
    ("/session/../file", True),
    ("/session/..%2Fx", True),
    ("/x/.%2e/session", True),
    ("/x/%2e%2e/session", True),
    # percent-encoding, once and twice
    ("/%73ession", True),
    ("/%53ESSION", True),
    ("/sess%69on", True),
    ("/%2573ession", True),
    ("/%252573ession", True),
    ("/%2Fsession", True),
    ("/x%2Fpty", True),
    ("/%70%74%79", True),
    ("/%2e%2e/%2e%2e/message", True),
    # slashes
    ("//session", True),
    ("///session", True),
    ("/x\\session", True),
    ("/x%5Csession", True),
    ("\\session", True),
    # case variants (routers differ; never looser)
    ("/SESSION", True),
    ("/Session/1", True),
    ("/PtY", True),
    ("/MESSAGE", True),
    # absolute-form request targets: the path is what follows the authority
    ("http://localhost:4096/session", True),
    ("https://h/pty/1", True),
    ("http://h/file", False),
    ("HTTP://h:1/%73ession", True),
    # URL parsers delete tabs and newlines, so these route to /session
    ("/ses\tsion", True),
    ("/sess\nion", True),
    ("/\rsession", True),
    ("/pt\ty", True),
    # query and fragment are dropped: they are not part of the path the
    # upstream routes on (decided and documented here)
    ("/file?path=/session", False),
    ("/file?x=%2Fsession", False),
    ("/file#/session", False),
    ("/find?pattern=/pty", False),
    ("/session?x=1", True),
]


@pytest.mark.parametrize(("raw", "execute"), EXECUTE_CASES)
def test_execute_rule(raw: str, execute: bool) -> None:
    for method in ("GET", "POST", "OPTIONS"):
        needs = required_permissions(method, raw)
        assert needs is not None
        assert (X in needs) is execute, (method, raw)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/", "/"),
        ("", "/"),
        ("/file", "/file"),
        ("/global/../session", "/session"),
        ("/%73ession", "/session"),
        ("/%2573ession", "/session"),
        ("//a///b/", "/a/b"),
        ("/a/./b/../c", "/a/c"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/x\\session", "/x/session"),
        ("/session/..%2Fx", "/x"),
        ("/file?path=/session", "/file"),
        ("/file#frag", "/file"),
        ("http://host:4096/a/b?q", "/a/b"),
        ("/a b", "/a%20b"),
        ("/%00", "/%00"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/café", "/caf%C3%A9"),
        ("/%ff", "/%EF%BF%BD"),  # invalid UTF-8 -> U+FFFD
        ("/a%3Fb", "/a%3Fb"),  # an encoded ? stays in the path, still encoded
        ("/a%23b", "/a%23b"),
        ("/ses\tsion", "/ses%09sion"),
    ],
)
def test_normalize_path(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal
    assert normalize_path(normal) == normal


def test_normalize_is_idempotent_for_encodings_nested_deeper_than_it_decodes() -> None:
    # Regression: after the last decoding round a "%2e" was left, re-encoded as
    # "%252e"; normalising that again decoded it to "." - not idempotent.
    for depth in range(6, 14):
        raw = "/" + "%" + "25" * depth + "2e" + "/x"
        once = normalize_path(raw)
        assert normalize_path(once) == once, depth


def test_normalize_is_idempotent_for_lone_surrogates() -> None:
    # Regression: a lone surrogate (from a server that decodes bytes with
    # surrogateescape) was encoded with surrogatepass, and the next pass
    # decoded those bytes as three U+FFFD.
    once = normalize_path("/a\udcffb")
    assert normalize_path(once) == once
    assert once.isascii()


@pytest.mark.parametrize(
    ("method", "raw", "public"),
    [
        ("GET", "/global/health", True),
        ("HEAD", "/global/health", True),
        ("GET", "/global/health?verbose=1", True),
        ("GET", "http://h/global/health", True),
        ("POST", "/global/health", False),
        ("OPTIONS", "/global/health", False),
        ("DELETE", "/global/health", False),
        ("get", "/global/health", False),
        ("GET", "/global/health/", False),
        ("GET", "//global/health", False),
        ("GET", "/global//health", False),
        ("GET", "/GLOBAL/health", False),
        ("GET", "/global/%68ealth", False),
        ("GET", "/global/health/../session", False),
        ("GET", "/global/healthz", False),
        ("GET", "/x/global/health", False),
        ("GET", "/global/health%00", False),
    ],
)
def test_only_get_head_of_exactly_global_health_is_public(
    method: str, raw: str, public: bool
) -> None:
    assert is_public(method, raw) is public


def test_request_path_drops_query_fragment_and_authority() -> None:
    assert request_path("/a?b#c") == "/a"
    assert request_path("/a#b?c") == "/a"
    assert request_path("http://u:p@h:1/x/y?z") == "/x/y"
    assert request_path("*") == "*"


# --- the C-speed unquote and quote, held to urllib's --------------------------------

_PIECES = st.sampled_from(
    ["%", "%2", "%25", "%2F", "%2f", "%C3", "%A9", "%E2%82", "%AC", "%FF", "%00", "%41",
     "a", "Z", "/", " ", "?", "#", "~", "é", "€", "\t", "\\", ".", "%zz", "\U0001f600"]
)  # fmt: skip
_TEXTS = st.lists(_PIECES, max_size=24).map("".join) | st.text(max_size=40)


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
def test_unquote_is_urllibs(text: str) -> None:
    assert rules._unquote(text) == urllib.parse.unquote(text, errors="replace")


@settings(max_examples=3000, deadline=None)
@given(_TEXTS.map(lambda t: rules._SURROGATE.sub("\ufffd", t)))
def test_quote_is_urllibs(text: str) -> None:
    assert rules._quote(text) == urllib.parse.quote(text, safe=rules._SAFE)
    kept = rules._quote(text, rules._UNSAFE_RUN_KEEPING_ESCAPES)
    assert kept == urllib.parse.quote(text, safe=rules._SAFE + "%")


_TARGET_PIECES = st.sampled_from(
    ["/global/health", "/", "//", "/.", "?", "#", "%2F", "\\", "\t", "\n", "\r", "x",
     "http://h", "https://h:1", "/global", "/health", ".."]
)  # fmt: skip
_TARGETS = st.lists(_TARGET_PIECES, max_size=8).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_TARGETS)
def test_the_fast_checks_are_the_plain_definitions(target: str) -> None:
    needs_work = re.compile(r"[%\\\t\n\r]|/\.|//").search(target) is not None
    assert rules._needs_work(target) == needs_work
    for method in ("GET", "HEAD", "POST"):
        plain = method in ("GET", "HEAD") and request_path(target) == "/global/health"
        assert is_public(method, target) == plain, (method, target)
