"""Which of opencode's routes a request target reaches, the way opencode routes it.

opencode 1.18.33 serves its API through Effect's HttpRouter, which is
find-my-way-ts with `ignoreTrailingSlash`, `ignoreDuplicateSlashes` and
`caseSensitive: false`. Its `find(method, url)` does, in this order:

1. an absolute-form target (`http://host/x`) loses its scheme and authority;
2. runs of slashes become one (`//path` is `/path`);
3. the path ends at the first `?`, `;` or `#` (so `/config;x/providers` is
   `/config`); percent-escapes of anything but the reserved characters are
   decoded with JavaScript's `decodeURI` (`/pa%74h` is `/path`, but `/path%2F`
   stays as it is and matches nothing); a malformed escape means no route at all;
4. one trailing slash is ignored;
5. the path is lower-cased and walked down a tree of routes: a static segment
   before a `:param` before a `*` wildcard, backtracking when a branch fails.
   A parameter longer than 100 characters means no route at all.

Dot segments are *not* resolved: `/x/../path` reaches no API route. Whatever
no API route takes falls to opencode's catch-all, which serves the web app's
static files (index.html for anything it does not know).

This module reproduces exactly that, so the route policy is applied to the
operation opencode will really run. `tests/gateway/test_routing_real.py`
holds it against a running opencode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PARAM_LENGTH = 100
_ABSOLUTE_FORM = re.compile(r"^https?://.*?/")
_SLASHES = re.compile(r"//+")
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")

# The escapes find-my-way leaves encoded in the path (and decodes only inside
# parameter values): JavaScript's decodeURI reserved set plus `%`.
_RESERVED_ESCAPES = {
    "25": "%",
    "23": "#",
    "24": "$",
    "26": "&",
    "2B": "+",
    "2C": ",",
    "2F": "/",
    "3A": ":",
    "3B": ";",
    "3D": "=",
    "3F": "?",
    "40": "@",
}
# decodeURI's reserved set `;/?:@&=+$,#`, as hex: their escapes stay as written.
_URI_RESERVED_HEX = r"2[346BbCcFf]|3[AaBbDdFf]|40"
_RESERVED_HEX = r"(?:25|" + _URI_RESERVED_HEX + ")"
_RESERVED_ESCAPE = re.compile("%" + _RESERVED_HEX)
# Runs of the escapes each decoding turns into text: every one (decodeURIComponent);
# all but the reserved (decodeURI); all but the reserved and `%25` (the router's
# path, where `%25` comes out as it went in). Every reserved character is ASCII,
# so no multi-byte UTF-8 sequence holds one: a run stopping at a reserved escape
# cuts no character that decoding could have made.
_COMPONENT_RUN = _ESCAPE_RUN
_URI_RUN = re.compile(r"(?:%(?!(?:" + _URI_RESERVED_HEX + r"))[0-9A-Fa-f]{2})+")
_ROUTER_RUN = re.compile(r"(?:%(?!" + _RESERVED_HEX + r")[0-9A-Fa-f]{2})+")


class MalformedURI(ValueError):
    """What JavaScript's decodeURI / decodeURIComponent throw a URIError for."""


def _reserved_escape(a: str, b: str) -> str | None:
    """find-my-way's `iJ`: the character a reserved escape stands for, or None.

    Upper- and lower-case hex digits both count, except in `%25`, `%23`,
    `%24`, `%26` and `%40`, which have no letters.
    """
    return _RESERVED_ESCAPES.get((a + b).upper())


def decode_uri(text: str, *, component: bool = False) -> str:
    """JavaScript's `decodeURI` (or `decodeURIComponent`): UTF-8 percent-escapes
    decoded, except - for decodeURI - those of the reserved characters
    `;/?:@&=+$,#`, which stay as the escape text. Raises MalformedURI where
    JavaScript throws (a `%` not followed by two hex digits, bad UTF-8).
    A few regular-expression scans, whatever the text holds."""
    if "%" not in text:
        return text
    if _MALFORMED_ESCAPE.search(text):
        raise MalformedURI("malformed percent-escape")
    return (_COMPONENT_RUN if component else _URI_RUN).sub(_decode_run, text)


def _decode_run(match: re.Match[str]) -> str:
    """One run of consecutive escapes. JavaScript decodes them as UTF-8
    sequences, each complete within the run, refusing overlong forms,
    surrogates and code points past U+10FFFF - exactly what Python's strict
    UTF-8 decoder refuses."""
    try:
        return bytes.fromhex(match.group().replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedURI("invalid UTF-8 in percent-escapes") from None


def decode_uri_component_or_raw(text: str) -> str:
    """opencode's `decodeURIComponent` with a fallback to the text itself on error
    (how it reads the `x-opencode-directory` header)."""
    try:
        return decode_uri(text, component=True)
    except MalformedURI:
        return text


@dataclass(frozen=True, slots=True)
class RoutedPath:
    """A request target as opencode's router sees it."""

    path: str
    """The path the tree is walked with, in its original case (for parameters)."""
    decode_params: bool
    """Whether parameter values get their reserved escapes decoded."""

    @property
    def lookup(self) -> str:
        return self.path.lower()


def _path_end(url: str) -> int:
    """Where the path ends: the first `?`, `;` or `#` after the leading `/`, or -1
    (three substring searches, much faster than a regular expression)."""
    ends = [at for at in (url.find("?", 1), url.find(";", 1), url.find("#", 1)) if at >= 0]
    return min(ends) if ends else -1


def routed_path(target: str) -> RoutedPath | None:
    """The path opencode's router matches for `target`, or None when it finds no
    route at all (a malformed escape). Linear in the target's length: a few
    regular-expression scans, no per-character Python loop."""
    url = target
    if not url.startswith("/"):
        url = _ABSOLUTE_FORM.sub("/", url, count=1)
        if not url.startswith("/"):
            return None  # `*`, `%2Fpath`: nothing in the route tree starts that way
    if "//" in url:
        url = _SLASHES.sub("/", url)
    cut = _path_end(url)
    path = url if cut < 0 else url[:cut]
    decode_params = False
    if "%" in path:
        # find-my-way scans the escapes left to right: a reserved one (`%2F`)
        # stays encoded, but means parameters get decoded later; `%25` becomes
        # `%2525` so that decodeURI leaves a `%25`; anything else is decoded.
        decode_params = _RESERVED_ESCAPE.search(path) is not None
        if "%" in path.replace("%25", ""):  # escapes other than `%25`, which stays
            # `%25` -> `%2525` -> decodeURI -> `%25`: it comes out as it went
            # in, and every `%` starts an escape, so the runs between `%25`s
            # decode on their own (one that breaks a UTF-8 sequence is an error
            # either way).
            if _MALFORMED_ESCAPE.search(path):
                return None
            try:
                path = _ROUTER_RUN.sub(_decode_run, path)
            except MalformedURI:
                return None
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return RoutedPath(path, decode_params)


def decode_param(value: str) -> str:
    """find-my-way's `CJ`: a parameter's reserved escapes decoded (`%2F` -> `/`)."""
    if "%" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        decoded = _reserved_escape(match.group(1), match.group(2))
        return match.group(0) if decoded is None else decoded

    return re.sub(r"%([0-9A-Fa-f])([0-9A-Fa-f])", one, value)


# --- the route tree -------------------------------------------------------------------


@dataclass
class _Node(Generic[T]):
    static: dict[str, _Node[T]] = field(default_factory=dict)
    param: _Node[T] | None = None
    param_name: str = ""
    wildcard: T | None = None
    value: T | None = None


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    value: T
    params: dict[str, str]


def template_segments(template: str) -> list[str]:
    """`/session/{sessionID}/message` -> ["session", "{sessionID}", "message"]."""
    return [part for part in template.split("/") if part]


class RouteTree(Generic[T]):
    """Templates like `/session/{sessionID}` and `/api/fs/read/*`, matched the way
    find-my-way does: case-insensitive static segments first, then a parameter
    (one segment, at most 100 characters), then a trailing wildcard."""

    def __init__(self, routes: Iterable[tuple[str, T]] = ()) -> None:
        self._root: _Node[T] = _Node()
        for template, value in routes:
            self.add(template, value)

    def add(self, template: str, value: T) -> None:
        node = self._root
        parts = template_segments(template)
        for index, part in enumerate(parts):
            if part == "*":
                if index != len(parts) - 1:
                    raise ValueError(f"{template}: a wildcard must come last")
                if node.wildcard is not None:
                    raise ValueError(f"{template}: declared twice")
                node.wildcard = value
                return
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                if node.param is None:
                    node.param = _Node()
                    node.param_name = name
                elif node.param_name != name:
                    raise ValueError(f"{template}: parameter {name} clashes with {node.param_name}")
                node = node.param
            else:
                node = node.static.setdefault(part.lower(), _Node())
        if node.value is not None:
            raise ValueError(f"{template}: declared twice")
        node.value = value

    def match(self, routed: RoutedPath) -> Match[T] | bool | None:
        """The route and its parameters; None if no route matches; False if a
        parameter is too long (find-my-way then gives up: no route at all)."""
        path = routed.path
        segments = path.split("/")[1:] if path != "/" else []
        lowered = [segment.lower() for segment in segments]
        params: list[tuple[str, str]] = []
        try:
            found = self._walk(self._root, segments, lowered, 0, params, routed.decode_params)
        except _TooLong:
            return False
        if found is None:
            return None
        value, names = found
        return Match(value, dict(names))

    def _walk(
        self,
        node: _Node[T],
        segments: list[str],
        lowered: list[str],
        index: int,
        params: list[tuple[str, str]],
        decode: bool,
    ) -> tuple[T, list[tuple[str, str]]] | None:
        if index == len(segments):
            if node.value is not None:
                return node.value, list(params)
            return None
        child = node.static.get(lowered[index])
        if child is not None:
            found = self._walk(child, segments, lowered, index + 1, params, decode)
            if found is not None:
                return found
        if node.param is not None and segments[index]:
            value = segments[index]
            if len(value) > MAX_PARAM_LENGTH:
                raise _TooLong
            params.append((node.param_name, decode_param(value) if decode else value))
            found = self._walk(node.param, segments, lowered, index + 1, params, decode)
            params.pop()
            if found is not None:
                return found
        if node.wildcard is not None:
            rest = "/".join(segments[index:])
            if rest:
                return node.wildcard, [*params, ("*", decode_param(rest) if decode else rest)]
        return None


class _TooLong(Exception):
    pass
