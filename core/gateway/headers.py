"""Which headers cross the gateway, in each direction.

Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection and are
never forwarded: the fixed list plus every header the `Connection` header names.
Toward opencode, the client's `Authorization` is always dropped and replaced by
the upstream's own Basic credentials (or nothing, when opencode has no password);
`Host` stays the client's - opencode compares it with `Origin` before it hands
out a terminal ticket, so a rewritten Host breaks browser terminals on any real
host name; `X-Forwarded-For/-Proto/-Host` are set by the gateway, never taken
from the client. WebSocket handshake headers are left to the
WebSocket client, which makes its own (so the subprotocol entry carrying a
browser's token never reaches opencode).

Toward the client, every answer of opencode's API carries headers that keep
content a project controls from running on the gateway's origin
(`ContentSafety`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

from core.authz.policy import DirectoryFrom, FileTarget, Rule

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Never removed just because `Connection` names them: the gateway needs them to
# frame the body, and removing them would change what opencode receives.
_PROTECTED = frozenset({"content-length", "content-type", "content-encoding"})
_REQUEST_DROP = HOP_BY_HOP | {
    "authorization",
    "expect",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
}
_WEBSOCKET_DROP = _REQUEST_DROP | {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-accept",
}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length"}
# Leave these out of the aiohttp client's automatic additions: opencode sees the
# client's own values, or none.
SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


def connection_tokens(headers: Mapping[str, str] | CIMultiDictProxy[str]) -> frozenset[str]:
    """Header names listed in `Connection` (hop-by-hop by declaration)."""
    if isinstance(headers, CIMultiDictProxy):
        values = headers.getall("Connection", [])
    else:
        value = headers.get("Connection")
        values = [value] if value else []
    names = {item.strip().lower() for value in values for item in value.split(",")}
    names.discard("")
    return frozenset(names - _PROTECTED)


def _filtered(headers: CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    # on every request, both ways: no Connection header (most answers) costs no parsing
    extra = drop | connection_tokens(headers) if "Connection" in headers else drop
    out: CIMultiDict[str] = CIMultiDict()
    add = out.add
    for name, value in headers.items():
        if name.lower() not in extra:
            add(name, value)
    return out


def undecodable_header(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a header's name or value is not UTF-8. aiohttp reads such bytes as
    lone surrogates, which the decision would see, and its writer leaves those
    characters out of what it sends on: `x-opencode-directory: /root/\\xff..`
    would be decided as a name inside the root and reach opencode as `/root/..`.
    The gateway refuses such a request (a request decided on is forwarded as it
    was decided). ASCII, nearly every header, costs one check per header."""
    for name, value in raw_headers:
        if not (value.isascii() and name.isascii()):
            try:
                name.decode("utf-8")
                value.decode("utf-8")
            except UnicodeDecodeError:
                return True
    return False


# Headers some frameworks read as the request's real method. opencode 1.18.33 honours
# none of them (a test holds it to that), but the decision is made on the method
# the request line carries, so a request naming another one is refused rather than
# forwarded with a second opinion on what it does.
METHOD_OVERRIDES = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")


def method_override(headers: Mapping[str, str] | CIMultiDictProxy[str]) -> str | None:
    """The first method-override header the request carries, if any."""
    for name in METHOD_OVERRIDES:
        if name in headers:
            return name
    return None


def method_override_message(name: str) -> str:
    return (
        f"the request carries {name}: it is decided on the method of its request line, "
        "so it may not name another"
    )


def upstream_request_headers(
    incoming: CIMultiDictProxy[str],
    *,
    authorization: str | None,
    client_ip: str | None,
    scheme: str,
    websocket: bool = False,
    drop_cookies: tuple[str, ...] = (),
) -> CIMultiDict[str]:
    """What goes to opencode. `drop_cookies` are taken out of `Cookie` (the
    gateway's own session cookie is never opencode's business)."""
    out = _filtered(incoming, _WEBSOCKET_DROP if websocket else _REQUEST_DROP)
    if drop_cookies and "Cookie" in out:
        kept = [_without_cookies(value, drop_cookies) for value in out.popall("Cookie")]
        for value in kept:
            if value:
                out.add("Cookie", value)
    if authorization is not None:
        out["Authorization"] = authorization
    if not websocket and "Content-Length" in incoming:
        out["Content-Length"] = incoming["Content-Length"]
    if client_ip:
        out["X-Forwarded-For"] = client_ip
    out["X-Forwarded-Proto"] = scheme
    host = incoming.get("Host")
    if host:
        out["X-Forwarded-Host"] = host
    return out


def _without_cookies(header: str, names: tuple[str, ...]) -> str:
    """A `Cookie` header without the cookies called `names` (the rest as sent)."""
    kept = [
        part for part in header.split(";") if part.strip().partition("=")[0].strip() not in names
    ]
    return ";".join(kept).strip()


def downstream_response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return _filtered(upstream, _RESPONSE_DROP)


# --- content a project controls -----------------------------------------------------

SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'"
"""A response under this policy is a unique, script-less origin: a project's
HTML or SVG opened from a link shows as inert text and pictures, never as a
page that can use the browser's credentials for this origin."""
APP_POLICY = "frame-ancestors 'self'"
"""The web app's own pages run (no sandbox), but no page of another origin may
frame them: a page that can run commands must not be clickjacked."""
SafetyHeaders = tuple[tuple[str, str], ...]
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_INLINE = ("Content-Disposition", "inline")
APP: SafetyHeaders = (("Content-Security-Policy", APP_POLICY), _NOSNIFF, _INLINE)
API: SafetyHeaders = (("Content-Security-Policy", SANDBOX), _NOSNIFF, _INLINE)
FILE_BYTES: SafetyHeaders = (
    ("Content-Security-Policy", SANDBOX),
    _NOSNIFF,
    ("Content-Disposition", "attachment"),
)


class ContentSafety:
    """The headers each answer gets, by the policy row that decided the request.

    - opencode's API (every row but the web app's own files): `SANDBOX` and
      `nosniff`. Its answers are JSON, event streams, diffs and file bytes - data
      for a program, never a page - and several carry what a project holds (a
      file, a search hit, a diff), which a browser would otherwise run as a page
      of this origin (`GET /api/fs/read/x.html` answers `text/html`).
    - rows that answer with a file's bytes as they are (`files: wildcard`, i.e.
      `/api/fs/read/*`) are also `Content-Disposition: attachment`: opened in a
      browser they are downloaded, not shown. opencode's web app reads files
      through `/file/content` (JSON), so it needs neither inline.
    - the web app's own files (`directory: webapp`) and unclassified paths
      (opencode answers with its web app's index.html there; they need all three
      permissions) must run: they get `APP_POLICY` and `nosniff` (opencode serves
      every file of its app with its right type).

    Every answer gets all three headers (`inline` where nothing else applies):
    forward-auth hands them to the proxy as `X-Auth-<name>`, and Caddy's
    `copy_headers` writes a header the auth answer lacks as a literal
    placeholder, so none may be missing.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._by_rule: dict[str, SafetyHeaders] = {}
        for rule in rules:
            if rule.directory is not DirectoryFrom.WEBAPP:
                self._by_rule[rule.name] = FILE_BYTES if rule.files is FileTarget.WILDCARD else API

    def headers(self, rule: str) -> SafetyHeaders:
        """What an answer to a request decided by the row named `rule` gets."""
        return self._by_rule.get(rule, APP)


def add_safety(headers: CIMultiDict[str], safety: SafetyHeaders) -> CIMultiDict[str]:
    """`headers` with `safety` added. A Content-Security-Policy is added next to
    opencode's own (the web app's index.html has one: a browser enforces both);
    the others replace opencode's values, if any."""
    for name, value in safety:
        if name == "Content-Security-Policy":
            headers.add(name, value)
        else:
            headers[name] = value
    return headers
