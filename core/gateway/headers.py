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
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import CIMultiDict, CIMultiDictProxy

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
    extra = connection_tokens(headers)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in drop or lowered in extra:
            continue
        out.add(name, value)
    return out


def upstream_request_headers(
    incoming: CIMultiDictProxy[str],
    *,
    authorization: str | None,
    client_ip: str | None,
    scheme: str,
    websocket: bool = False,
) -> CIMultiDict[str]:
    out = _filtered(incoming, _WEBSOCKET_DROP if websocket else _REQUEST_DROP)
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


def downstream_response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return _filtered(upstream, _RESPONSE_DROP)
