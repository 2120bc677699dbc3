"""forward-auth: core's decision as a tiny HTTP service for a proxy in front.

nginx (`auth_request`), Caddy (`forward_auth`) and Traefik (`ForwardAuth`) send
it a copy of each client request's headers and act on the answer: 200 lets the
request through (with `X-Auth-Token-Id` naming the token), 401/403 (with the
RFC 6750 challenge) turn it away. The original method and URI come from headers
the proxy sets:

    X-Original-Method / X-Original-URI      nginx (set in the config, see README)
    X-Forwarded-Method / X-Forwarded-Uri    Caddy, Traefik (set by the proxy itself)

`X-Original-*` wins when both families are present - but only when they agree:
a proxy sets one family and passes the other through from the client, so a
disagreement means a client is trying to pass one request off as another, and
the request is refused (400). A missing method or URI is refused too, never
guessed (a guessed GET would let a POST through with a read token), and so is a
header sent twice.

These headers are trusted, which is why the service must only be reachable by
the proxy: it refuses to listen on a non-loopback address unless told
`--allow-non-loopback`.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import CIMultiDictProxy

from core.gateway.access_log import note
from core.gateway.guard import Guard, credentials, error_response, split_subprotocols
from core.gateway.usage import UsageRecorder

TOKEN_ID_HEADER = "X-Auth-Token-Id"  # noqa: S105 - a header name
METHOD_HEADERS = ("X-Original-Method", "X-Forwarded-Method")
URI_HEADERS = ("X-Original-URI", "X-Forwarded-Uri")


class OriginalRequestError(ValueError):
    pass


def _one(headers: CIMultiDictProxy[str], names: tuple[str, str], what: str) -> str:
    found: list[tuple[str, str]] = []
    for name in names:
        values = headers.getall(name, [])
        if len(values) > 1:
            raise OriginalRequestError(f"{name} was sent more than once")
        if values and values[0].strip():
            found.append((name, values[0].strip()))
    if not found:
        raise OriginalRequestError(
            f"the original request's {what} is missing: the proxy must send {' or '.join(names)}"
        )
    if len(found) == 2 and found[0][1] != found[1][1]:
        raise OriginalRequestError(
            f"{found[0][0]} and {found[1][0]} disagree; one of them came from the client"
        )
    return found[0][1]


def original_request(headers: CIMultiDictProxy[str]) -> tuple[str, str]:
    """(method, uri) of the request the proxy is asking about."""
    return (_one(headers, METHOD_HEADERS, "method"), _one(headers, URI_HEADERS, "URI"))


class ForwardAuth:
    service = "forward-auth"

    def __init__(self, guard: Guard, usage: UsageRecorder | None = None) -> None:
        self.guard = guard
        self.usage = usage

    async def start(self) -> None:
        if self.usage is not None:
            self.usage.start()

    async def drain(self) -> None:
        return None

    async def close(self) -> None:
        if self.usage is not None:
            await self.usage.close()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            method, uri = original_request(request.headers)
        except OriginalRequestError as exc:
            note(request, "bad_request", "")
            return error_response(400, "bad_request", str(exc))
        protocols = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL)
        subprotocols = split_subprotocols(protocols) if protocols and method == "GET" else None
        decision = self.guard.admit(request, credentials(request, subprotocols), method, uri)
        if isinstance(decision, web.StreamResponse):
            return decision
        if decision.token_id is None:
            return web.Response(status=200)
        if self.usage is not None:
            self.usage.seen(decision.token_id)
        return web.Response(status=200, headers={TOKEN_ID_HEADER: decision.token_id})
