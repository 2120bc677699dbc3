"""forward-auth: core's decision as a tiny HTTP service for a proxy in front.

nginx (`auth_request`), Caddy (`forward_auth`) and Traefik (`ForwardAuth`) send
it a copy of each client request's headers and act on the answer: 200 lets the
request through (with `X-Auth-Token-Id` naming the token), 401/403 (with the
RFC 6750 challenge) turn it away. The original method and URI come from headers
the proxy sets:

    X-Original-Method / X-Original-URI      nginx (set in the config, see docs/nginx-and-caddy.md)
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

A WebSocket handshake is recognised by its route as well as by its headers: a
GET of a WebSocket route (a terminal's `/pty/{id}/connect`) is decided as a
handshake whatever the subrequest carries - nginx's `auth_request` subrequest
drops `Upgrade` - so the cross-site check (a page of another origin opening a
terminal with the browser's saved credentials) and the `Sec-WebSocket-Protocol:
bearer, <token>` credentials apply to it. A token in that header is taken only
from a handshake, as the gateway does: on a plain request the header means
nothing to opencode, and a token there would pass unnoticed by anything that
looks for credentials where they belong.

An allowed answer names the headers the proxy must add to opencode's answer
(`X-Auth-Content-Security-Policy`, `X-Auth-Content-Type-Options`,
`X-Auth-Content-Disposition`; headers.ContentSafety): the same sandbox the
gateway puts on every API answer, so a project's files never run as pages of
the proxy's origin. The nginx and Caddy configs in docs/nginx-and-caddy.md add them.

What forward-auth cannot do is end a connection: after the subrequest it never
sees the request again. An event stream or a terminal opened through the proxy
stays open after its token is deleted or expires, until it closes (new requests
are refused at once). The start-up line and `--help` say so; the gateway, which
relays the connection itself, closes them (live.py).

Like the gateway, it asks opencode (`--upstream`) for its version, the
directory it serves and its folders at start, and for a session's directory
when a token limited to some directories asks about a session.

Every refusal also carries its JSON body in `X-Auth-Error`. Caddy and Traefik
pass a refusal on as it is, body and all; nginx's `auth_request` keeps only the
status (and the first `WWW-Authenticate`) and would answer with its own HTML
page, which opencode's clients take for a server of another version. With the
header, nginx's config can answer with the body itself (`auth_request_set` +
`error_page`, see docs/nginx-and-caddy.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, hdrs, web
from multidict import CIMultiDictProxy

from core.authz.policy import Policy
from core.authz.rules import SHORT_PATH, logged_path, request_path
from core.gateway.access_log import note
from core.gateway.guard import (
    Credentials,
    Guard,
    Subprotocols,
    error_response,
    json_response,
    query_credentials,
    split_subprotocols,
)
from core.gateway.headers import (
    APP,
    ContentSafety,
    SafetyHeaders,
    method_override,
    method_override_message,
)
from core.gateway.signin import (
    SignIn,
    clear_cookie,
    cookie_value,
    is_navigation,
    login_location,
    owns,
    redirect,
)
from core.gateway.tickets import CONNECT_RULES
from core.gateway.upstream_info import OpencodeInfo, ScopeLearner
from core.gateway.usage import UsageRecorder

TOKEN_ID_HEADER = "X-Auth-Token-Id"  # noqa: S105 - a header name
REDIRECT_HEADER = "X-Auth-Redirect"
"""On a 401 for a browser's page: the login page to send it to (nginx's config
answers 303 with it)."""
METHOD_HEADERS = ("X-Original-Method", "X-Forwarded-Method")
URI_HEADERS = ("X-Original-URI", "X-Forwarded-Uri")
HOST_HEADERS = ("X-Original-Host", "X-Forwarded-Host")
ERROR_HEADER = "X-Auth-Error"
SAFETY_PREFIX = "X-Auth-"
"""An allowed answer's `X-Auth-<Header>: value` (an `X-` of the header's own
dropped: `X-Auth-Content-Type-Options`): the proxy adds `<Header>: value` to
opencode's answer (headers.ContentSafety)."""
CANNOT_REVOKE_OPEN = (
    "open event streams and terminals stay open through the proxy after their token "
    "is deleted or expires, until they close (new requests are refused at once); the "
    "gateway closes them"
)
ERROR_HEADER_LIMIT = 2048
"""The longest `X-Auth-Error` value, in bytes. nginx reads an answer's headers into
one `proxy_buffer_size` buffer (4 KB by default) and turns an answer whose
headers do not fit into a 500; a longer message (a long directory named in the
request) is cut in the middle."""


class OriginalRequestError(ValueError):
    pass


def _one(headers: CIMultiDictProxy[str], names: tuple[str, str], what: str) -> str:
    found: list[tuple[str, str]] = []
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        if len(headers.getall(name)) > 1:
            raise OriginalRequestError(f"{name} was sent more than once")
        value = value.strip()
        if value:
            found.append((name, value))
    if not found:
        raise OriginalRequestError(
            f"the original request's {what} is missing: the proxy must send {' or '.join(names)}"
        )
    if len(found) == 2 and found[0][1] != found[1][1]:
        raise OriginalRequestError(
            f"{found[0][0]} and {found[1][0]} disagree; one of them came from the client"
        )
    return found[0][1]


URL_CREDENTIALS_REFUSED = (
    "auth_token in the URL cannot pass a proxy (opencode would read it as its own "
    "password): sign in with the browser's prompt, or send the token in an "
    "Authorization header (Basic or Bearer)"
)


def credentials_for(request: web.BaseRequest, subprotocols: object) -> str | None:
    """As the gateway reads them: the header, else the WebSocket subprotocol token."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        return header
    if isinstance(subprotocols, Subprotocols) and subprotocols.token is not None:
        return f"Bearer {subprotocols.token}"
    return None


def original_request(headers: CIMultiDictProxy[str]) -> tuple[str, str]:
    """(method, uri) of the request the proxy is asking about."""
    return (_one(headers, METHOD_HEADERS, "method"), _one(headers, URI_HEADERS, "URI"))


def original_host(headers: CIMultiDictProxy[str]) -> str | None:
    """The Host the client sent its request to, as the proxy tells it (optional:
    needed only to refuse browser requests from other sites)."""
    try:
        return _one(headers, HOST_HEADERS, "host")
    except OriginalRequestError as exc:
        if "missing" in str(exc):
            return None
        raise


def _header_json(payload: Mapping[str, object]) -> str:
    # ASCII only (json escapes the rest and every control character but DEL,
    # which is no more allowed in a header value than the others).
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("\x7f", "\\u007f")


def error_header_value(payload: Mapping[str, object], limit: int = ERROR_HEADER_LIMIT) -> str:
    """A refusal's JSON body as one header value: ASCII, at most `limit` bytes.

    It holds only what the body holds: the reason, the permissions and a message
    that names at most a policy row and its reason, a path or a directory the
    request itself named. No refusal quotes the credentials, and a store that
    cannot be read is not described (its path stays in the operator's log).
    """
    value = _header_json(payload)
    message = payload.get("message")
    if len(value) <= limit:
        return value
    if not isinstance(message, str):
        return _header_json({"error": payload.get("error")})

    def cut(keep: int) -> str:
        head = keep * 2 // 3
        shown = message[:head] + "..." + message[len(message) - (keep - head) :]
        return _header_json({**payload, "message": shown})

    # The most characters kept that fit (an escaped character takes up to 12 bytes).
    low, high = 0, len(message) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if len(cut(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    value = cut(low)
    return value if len(value) <= limit else _header_json({"error": payload.get("error")})


def with_error_header(response: web.Response) -> web.Response:
    """`response` (a refusal with a JSON body) with that body in `X-Auth-Error` too."""
    body = response.body
    if isinstance(body, bytes):
        try:
            payload = json.loads(body)
        except ValueError:
            return response
        if isinstance(payload, dict):
            response.headers[ERROR_HEADER] = error_header_value(payload)
    return response


class ForwardAuth:
    service = "forward-auth"

    def __init__(
        self,
        guard: Guard,
        *,
        policy: Policy,
        signin: SignIn,
        opencode: OpencodeInfo | None = None,
        learner: ScopeLearner | None = None,
        usage: UsageRecorder | None = None,
    ) -> None:
        """Built by wiring.py. Without `opencode` (tests), nothing is asked of
        opencode: the scope is whatever the authorizer holds."""
        self.signin = signin
        self.guard = guard
        self.usage = usage
        self._info = opencode
        self.learner = learner
        self._session: ClientSession | None = None
        self._policy = policy
        safety = ContentSafety(policy)

        def prefixed(headers: SafetyHeaders) -> SafetyHeaders:
            return tuple(
                (SAFETY_PREFIX + name.removeprefix("X-"), value) for name, value in headers
            )

        self._safety = {rule.name: prefixed(safety.headers(rule.name)) for rule in policy}
        self._app_safety = prefixed(APP)

    def _websocket(self, method: str, uri: str, upgrade: bool) -> bool:
        """A WebSocket handshake: a GET with `Upgrade: websocket`, or a GET of a
        WebSocket route whatever the subrequest carries (module docstring)."""
        if method != "GET":
            return False
        if upgrade:
            return True
        if len(request_path(uri)) > SHORT_PATH:  # bounded work before the token passed
            return False
        return self._policy.classify("GET", uri).rule_name in CONNECT_RULES

    async def start(self) -> None:
        if self._info is not None:
            self._session = ClientSession(
                cookie_jar=DummyCookieJar(),
                trust_env=False,
                timeout=ClientTimeout(total=10.0),
            )
            self._info.attach(self._session)
        if self.learner is not None:
            self.learner.start()
        if self.usage is not None:
            self.usage.start()

    async def drain(self) -> None:
        return None

    async def close(self) -> None:
        if self.learner is not None:
            await self.learner.close()
        if self._session is not None:
            await self._session.close()
        if self.usage is not None:
            await self.usage.close()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if owns(request.raw_path):  # the proxy sends /_auth/ here (the sign-in pages)
            return await self.signin.handle(request)
        answer = await self._answer(request)
        if answer.status >= 400 and isinstance(answer, web.Response):
            return with_error_header(answer)
        return answer

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            method, uri = original_request(request.headers)
            host = original_host(request.headers)
        except OriginalRequestError as exc:
            note(request, "bad_request", "")
            return error_response(400, "bad_request", str(exc))
        override = method_override(request.headers)
        if override is not None:  # nginx and Caddy pass the client's headers on
            note(request, "bad_request", logged_path(uri), method=method)
            return error_response(400, "bad_request", method_override_message(override))
        protocols = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL)
        websocket = self._websocket(
            method, uri, request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        )
        subprotocols = (
            split_subprotocols(protocols, leading=True) if protocols and websocket else None
        )
        if query_credentials(uri) is not None:
            # 401 with the Basic challenge (not 400, which nginx turns into 500):
            # the browser prompts, and the token typed there passes.
            note(request, "url_credentials", logged_path(uri), method=method)
            return json_response(
                401,
                {"error": "url_credentials", "message": URL_CREDENTIALS_REFUSED},
                [("WWW-Authenticate", 'Basic realm="opencode"')],
            )
        authorization = credentials_for(request, subprotocols)
        secure = self.signin.secure(request)
        found = Credentials(
            authorization,
            None if authorization is not None else cookie_value(request.headers, secure),
        )
        decision = await self.guard.admit(
            request, found, method, uri, own_host=host, websocket=websocket
        )
        if isinstance(decision, web.StreamResponse):
            if decision.status == 401 and is_navigation(method, request.headers):
                return self._to_login(request, uri, found, secure)
            return decision
        headers = list(self._safety.get(decision.rule, self._app_safety))
        client = forwarded_client(request)
        if decision.token_id is not None:
            if self.usage is not None:
                self.usage.seen(decision.token_id, client)
            headers.append((TOKEN_ID_HEADER, decision.token_id))
        if decision.session_id is not None and self.usage is not None:
            self.usage.seen_session(decision.session_id, client)
        return web.Response(status=200, headers=headers)

    def _to_login(
        self, request: web.BaseRequest, uri: str, found: Credentials, secure: bool
    ) -> web.Response:
        """A browser page without a (valid) session: the login page. Caddy and Traefik
        pass forward-auth's answer on as it is: a 303. nginx's `auth_request` keeps
        only 2xx, 401 and 403, so it gets a 401 naming the page in `X-Auth-Redirect`,
        which its config turns into the redirect (docs/nginx-and-caddy.md)."""
        location = login_location(uri)
        note(request, "login_redirect", logged_path(uri), method=request.method)
        if request.headers.get("X-Original-URI") is not None:
            answer = json_response(
                401,
                {"error": "missing_token", "message": "sign in first"},
                [("WWW-Authenticate", 'Basic realm="opencode"'), (REDIRECT_HEADER, location)],
            )
        else:
            answer = redirect(location)
        if found.cookie is not None:
            clear_cookie(answer, secure=secure)
        return answer


def forwarded_client(request: web.BaseRequest) -> str | None:
    """The browser's address as the proxy gives it (its X-Forwarded-For, which the
    configs in docs/nginx-and-caddy.md set to the client's own address, not a list
    from the client)."""
    value = request.headers.get("X-Forwarded-For")
    if value is None:
        return request.remote
    return value.split(",")[-1].strip()[:64] or None
