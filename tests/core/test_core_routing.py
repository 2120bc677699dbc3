"""core.authz.routing's decoding against a reference: the character-by-character
transcription of find-my-way-ts and JavaScript's decodeURI it replaced (kept
here, slow and obvious), on every target hypothesis can build from the
characters that matter. `tests/gateway/test_routing_real.py` holds both against
a running opencode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.authz.routing import MalformedURI, RoutedPath, decode_uri, routed_path

_HEX = frozenset("0123456789abcdefABCDEF")
_RESERVED_ESCAPES = {
    "25": "%", "23": "#", "24": "$", "26": "&", "2B": "+", "2C": ",",
    "2F": "/", "3A": ":", "3B": ";", "3D": "=", "3F": "?", "40": "@",
}  # fmt: skip
_DECODE_URI_RESERVED = frozenset(";/?:@&=+$,#")


def _escape_byte(text: str, i: int) -> int:
    if i + 2 >= len(text) or text[i] != "%" or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
        raise MalformedURI("malformed percent-escape")
    return int(text[i + 1 : i + 3], 16)


def reference_decode_uri(text: str, *, component: bool = False) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "%":
            out.append(text[i])
            i += 1
            continue
        first = _escape_byte(text, i)
        if first < 0x80:
            decoded = chr(first)
            keep = not component and decoded in _DECODE_URI_RESERVED
            out.append(text[i : i + 3] if keep else decoded)
            i += 3
            continue
        if first & 0xE0 == 0xC0:
            count = 2
        elif first & 0xF0 == 0xE0:
            count = 3
        elif first & 0xF8 == 0xF0:
            count = 4
        else:
            raise MalformedURI("invalid UTF-8 lead byte")
        raw = bytearray([first])
        for k in range(1, count):
            byte = _escape_byte(text, i + 3 * k)
            if byte & 0xC0 != 0x80:
                raise MalformedURI("invalid UTF-8 continuation byte")
            raw.append(byte)
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise MalformedURI("invalid UTF-8 sequence") from None
        i += 3 * count
    return "".join(out)


def reference_routed_path(target: str) -> RoutedPath | None:
    import re

    url = target
    if not url.startswith("/"):
        url = re.sub(r"^https?://.*?/", "/", url, count=1)
        if not url.startswith("/"):
            return None
    url = re.sub(r"//+", "/", url)
    needs_decode = decode_params = False
    chars = list(url)
    i = 1
    cut: int | None = None
    while i < len(chars):
        ch = chars[i]
        if ch == "%":
            a = chars[i + 1] if i + 1 < len(chars) else ""
            b = chars[i + 2] if i + 2 < len(chars) else ""
            if not a or not b or _RESERVED_ESCAPES.get((a + b).upper()) is None:
                needs_decode = True
            else:
                decode_params = True
                if a == "2" and b == "5":
                    needs_decode = True
                    chars[i + 1 : i + 1] = ["2", "5"]
                    i += 2
                i += 2
        elif ch in "?;#":
            cut = i
            break
        i += 1
    path = "".join(chars if cut is None else chars[:cut])
    if needs_decode:
        try:
            path = reference_decode_uri(path)
        except MalformedURI:
            return None
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return RoutedPath(path, decode_params)


# the pieces that make decoding interesting: escapes of every kind, broken ones,
# UTF-8 leads and continuations, the cut characters, slashes, plain text
PIECES = st.sampled_from(
    [
        "/", "//", "a", "Z", "é", "?", ";", "#", "%", "%2", "%25", "%2525", "%2F", "%2f",
        "%3A", "%3a", "%41", "%7E", "%C3", "%A9", "%c3%a9", "%E2%82%AC", "%F0%9F%98%80",
        "%ED%A0%80", "%C0%AF", "%F4%90%80%80", "%FF", "%G1", "%%", "session", "http://h",
    ]
)  # fmt: skip
TARGETS = st.lists(PIECES, max_size=14).map("".join)


def outcome(function: Callable[..., object], *args: object, **kwargs: Any) -> object:
    try:
        return function(*args, **kwargs)
    except MalformedURI:
        return MalformedURI


@settings(max_examples=3000, deadline=None)
@given(TARGETS)
def test_routed_path_matches_the_reference(target: str) -> None:
    assert routed_path(target) == reference_routed_path(target)
    assert routed_path("/" + target) == reference_routed_path("/" + target)


@settings(max_examples=3000, deadline=None)
@given(TARGETS, st.booleans())
def test_decode_uri_matches_the_reference(text: str, component: bool) -> None:
    assert outcome(decode_uri, text, component=component) == outcome(
        reference_decode_uri, text, component=component
    )


@pytest.mark.parametrize(
    ("target", "path", "decode_params"),
    [
        ("/pa%74h", "/path", False),
        ("/path%2F", "/path%2F", True),
        ("/x%25y", "/x%25y", True),
        ("/x%2525y", "/x%2525y", True),
        ("//config;x/providers", "/config", False),
        ("/caf%C3%A9/", "/café", False),
        ("http://host:1/a//b?q", "/a/b", False),
    ],
)
def test_known_spellings(target: str, path: str, decode_params: bool) -> None:
    assert routed_path(target) == RoutedPath(path, decode_params)


@pytest.mark.parametrize("target", ["/a%", "/a%2", "/a%C3", "/a%C0%AF", "/a%ED%A0%80", "*"])
def test_no_route_at_all(target: str) -> None:
    assert routed_path(target) is None
