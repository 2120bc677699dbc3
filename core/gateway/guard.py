"""From a request to core's decision, and from a denial to its HTTP answer.

The decision itself is `CachedAuthorizer.decide`, unchanged; this module only
finds the credentials, supplies what the decision needs from opencode (a
session's directory, looked up only once the token has passed) and shapes the
answers both servers give:

- credentials come from `Authorization` (Bearer, or Basic with the token as the
  password), or - for a WebSocket handshake, where browsers cannot set headers
  - from `Sec-WebSocket-Protocol: bearer, <token>`;
- a denial is JSON `{"error", "required", "granted"[, "message"]}` with the
  challenges (Basic, so browsers prompt, and RFC 6750 Bearer);
- a store that cannot be read refuses everything with 503 (fail closed); the
  precise problem, which names a path on the server, goes to the operator's log,
  not to the client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import hdrs, web
from multidict import CIMultiDict

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Decision
from core.authz.rules import logged_path
from core.authz.scope import SessionDirectory, SessionLookupNeeded, query_key, query_values
from core.gateway.access_log import note
from core.model.errors import StoreError
from core.model.permissions import canonical

JSON = "application/json"
BEARER_SUBPROTOCOL = "bearer"
_NO_STORE = "no-store"


@dataclass(frozen=True, slots=True)
class Subprotocols:
    """A WebSocket handshake's `Sec-WebSocket-Protocol`, split into the bearer
    token (if any) and the protocols that may be passed on upstream."""

    token: str | None
    bearer: str | None
    """The `bearer` entry as the client spelled it (echoed back), or None."""
    others: tuple[str, ...]


def split_subprotocols(value: str | None, *, leading: bool = False) -> Subprotocols:
    """`bearer, <token>[, other...]`: the entry after `bearer` is the token.

    `leading`: only a `bearer` that comes first counts (forward-auth). The proxy
    configs take the token out of the header before it goes to opencode only in
    that place, so a token elsewhere in the list would be decided on and then
    reach opencode; the gateway builds the forwarded list itself and takes it
    out wherever it is."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    if leading and items and items[0].lower() != BEARER_SUBPROTOCOL:
        return Subprotocols(None, None, tuple(items))
    token: str | None = None
    bearer: str | None = None
    others: list[str] = []
    skip_next = False
    for i, item in enumerate(items):
        if skip_next:
            skip_next = False
            continue
        if item.lower() == BEARER_SUBPROTOCOL and bearer is None:
            bearer = item
            if i + 1 < len(items):
                token = items[i + 1]
                skip_next = True
            continue
        others.append(item)
    return Subprotocols(token, bearer, tuple(others))


def is_websocket_upgrade(request: web.BaseRequest) -> bool:
    return (
        request.method == hdrs.METH_GET
        and request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    )


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request authenticates with: an `Authorization` value (Bearer, Basic,
    the WebSocket subprotocol's token, or the one that asked for a PTY ticket), or
    else a sign-in cookie's session id (signin.py)."""

    authorization: str | None = None
    cookie: str | None = None

    def __bool__(self) -> bool:
        return self.authorization is not None or self.cookie is not None


NO_CREDENTIALS = Credentials()


class Sessions(Protocol):
    """Where a session's directory comes from (opencode, through upstream_info)."""

    def cached(self, session_id: str) -> SessionDirectory | None: ...
    async def session(self, session_id: str) -> SessionDirectory: ...


QUERY_CREDENTIALS = "auth_token"


def query_credentials(target: str) -> str | None:
    """The `auth_token` query parameter as an `Authorization` value (`Basic ...`).

    opencode's web app accepts a one-off `?auth_token=<base64 user:password>`;
    opencode reads it before the `Authorization` header, and so does this.
    """
    if "?" not in target:
        return None
    values = query_values(target, QUERY_CREDENTIALS)
    return f"Basic {values[0]}" if values else None


def without_query_credentials(target: str) -> str:
    """`target` without its `auth_token` parameters (the rest byte for byte)."""
    cut = target.find("?")
    if cut == -1 or not query_values(target, QUERY_CREDENTIALS):
        return target
    path, query = target[:cut], target[cut + 1 :]
    fragment = ""
    if "#" in query:
        query, _, fragment = query.partition("#")
        fragment = "#" + fragment
    kept = [item for item in query.split("&") if query_key(item) != QUERY_CREDENTIALS]
    return path + ("?" + "&".join(kept) if kept else "") + fragment


def credentials(request: web.BaseRequest, subprotocols: Subprotocols | None) -> str | None:
    """The `Authorization` value to decide on: `?auth_token=` (as opencode reads it
    first), else the header, else the WebSocket subprotocol token."""
    from_query = query_credentials(request.raw_path)
    if from_query is not None:
        return from_query
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        return header
    if subprotocols is not None and subprotocols.token is not None:
        return f"Bearer {subprotocols.token}"
    return None


def json_response(
    status: int,
    payload: Mapping[str, object],
    headers: Sequence[tuple[str, str]] = (),
) -> web.Response:
    all_headers: CIMultiDict[str] = CIMultiDict({"Cache-Control": _NO_STORE})
    for name, value in headers:
        all_headers.add(name, value)
    return web.Response(
        status=status,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        content_type=JSON,
        headers=all_headers,
    )


def denial_body(decision: Decision) -> dict[str, object]:
    body: dict[str, object] = {
        "error": decision.reason.value,
        "required": [p.value for p in canonical(decision.required)],
        "granted": [p.value for p in canonical(decision.granted)],
    }
    if decision.message is not None:
        body["message"] = decision.message
    return body


def challenges(decision: Decision) -> list[tuple[str, str]]:
    return [("WWW-Authenticate", value) for value in decision.www_authenticate()]


def denial(decision: Decision) -> web.Response:
    """400/401/403 with the body and the `WWW-Authenticate` challenges of `decision`."""
    return json_response(decision.status, denial_body(decision), challenges(decision))


def error_response(status: int, error: str, message: str) -> web.Response:
    return json_response(status, {"error": error, "message": message})


STORE_UNAVAILABLE_MESSAGE = (
    "the token store cannot be read, so every request is refused until it is fixed "
    "(the gateway's log says what is wrong)"
)


UNKNOWN_SESSION_MESSAGE = (
    "the token is limited to some directories, and the session's directory could "
    "not be asked of opencode"
)


class Guard:
    """Decides requests; turns a broken store into 503 and tells the operator once."""

    def __init__(
        self,
        authorizer: CachedAuthorizer,
        *,
        warn: Callable[[str], None],
        repeat_after: float = 60.0,
        sessions: Sessions | None = None,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.authorizer = authorizer
        self.sessions = sessions
        self.warn = warn
        self.say = say
        self._warn = warn
        self._repeat_after = repeat_after
        self._last_problem: str | None = None
        self._last_warned = 0.0

    async def decide(
        self,
        credentials: Credentials,
        method: str,
        raw_path: str,
        headers: CIMultiDict[str] | Mapping[str, str] | None = None,
    ) -> Decision | web.Response | None:
        """The decision; a ready answer when opencode could not be asked about a
        session; None when the store is unreadable (answer 503)."""
        values = _header_values(headers)
        sessions = self.sessions
        lookup = (lambda _sid: None) if sessions is None else sessions.cached
        try:
            # A changed store is read on a worker thread; this request waits for
            # it (revocation applies to it), other connections are served meanwhile.
            index = await self.authorizer.fresh_index()
            try:
                decision = self.authorizer.decide(
                    credentials.authorization,
                    method,
                    raw_path,
                    cookie=credentials.cookie,
                    headers=values,
                    sessions=lookup,
                    index=index,
                )
            except SessionLookupNeeded as needed:
                session_id = needed.session_id
                if sessions is None:
                    return error_response(403, "directory_unknown", UNKNOWN_SESSION_MESSAGE)
                from core.gateway.upstream_info import UpstreamUnavailable

                try:
                    found = await sessions.session(session_id)
                except UpstreamUnavailable as exc:
                    self._warn(f"could not ask opencode for a session's directory: {exc}")
                    return error_response(
                        502, "upstream_unavailable", "opencode could not be asked about the session"
                    )
                decision = self.authorizer.decide(
                    credentials.authorization,
                    method,
                    raw_path,
                    cookie=credentials.cookie,
                    headers=values,
                    sessions=lambda sid: found if sid == session_id else lookup(sid),
                    index=index,
                )
        except StoreError as exc:
            self._report(exc)
            return None
        if self._last_problem is not None:
            self._warn("the token store is readable again; requests are decided normally")
            self._last_problem = None
        return decision

    async def admit(
        self,
        request: web.BaseRequest,
        credentials: Credentials,
        method: str,
        raw_path: str,
        *,
        own_host: str | None,
        websocket: bool,
        headers: CIMultiDict[str] | None = None,
    ) -> Decision | web.Response:
        """The decision when the request is allowed, else the answer refusing it
        (503 for an unreadable store, 400/401/403 with the challenges, 403 for a
        browser request from another site); either way the outcome is noted for
        the access log. `own_host` is the Host the client sent the request to.

        `headers` are the ones the decision reads (the directory and workspace
        headers): the gateway passes the set it will forward, so that what
        opencode receives is what was decided on; the default is the request's
        own (forward-auth: what the proxy's subrequest shows). The cross-site
        check always reads the request's own headers, as the browser sent them."""
        decision = await self.decide(
            credentials, method, raw_path, request.headers if headers is None else headers
        )
        if decision is None:
            note(request, "store_unavailable", self.log_path(raw_path), method=method)
            return self.store_unavailable()
        if isinstance(decision, web.Response):
            note(request, "session_unknown", self.log_path(raw_path), method=method)
            return decision
        if decision.allowed:
            why = cross_site(method, request.headers, own_host, websocket=websocket)
            if why is not None:
                note(request, "cross_site", decision.path, decision.token_id, decision.rule, method)
                return error_response(403, "cross_site", why)
        note(
            request, decision.reason.value, decision.path, decision.token_id, decision.rule, method
        )
        if not decision.allowed:
            return denial(decision)
        return decision

    def _report(self, exc: StoreError) -> None:
        problem = str(exc)
        now = time.monotonic()
        if problem != self._last_problem or now - self._last_warned >= self._repeat_after:
            hint = f" ({exc.hint})" if exc.hint else ""
            self._warn(f"token store unusable, refusing every request with 503: {problem}{hint}")
            self._last_problem = problem
            self._last_warned = now

    @staticmethod
    def store_unavailable() -> web.Response:
        return error_response(503, "store_unavailable", STORE_UNAVAILABLE_MESSAGE)

    @staticmethod
    def log_path(raw_path: str) -> str:
        """The path for the access log when there is no decision (bounded work:
        the request may have no valid token)."""
        return logged_path(raw_path)


def _header_values(
    headers: CIMultiDict[str] | Mapping[str, str] | None,
) -> Callable[[str], Sequence[str]]:
    if headers is None:
        return lambda name: ()
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return lambda name: getall(name, ())
    plain = {k.lower(): v for k, v in headers.items()}
    return lambda name: (plain[name],) if name in plain else ()


# --- cross-site requests --------------------------------------------------------------

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(
    method: str, headers: Mapping[str, str], own_host: str | None, *, websocket: bool
) -> str | None:
    """Why a browser request from another site must not pass, or None.

    A browser that has been given the token as a Basic password sends it with
    every request to this origin - also when another site's page makes the
    request (a form post, `fetch(..., {mode: "no-cors"})`, a WebSocket). opencode
    accepts body-less POSTs (`/session/{id}/share`, `/instance/dispose`), so such
    a page could act with the user's token. Browsers say where a request comes
    from (`Sec-Fetch-Site`, `Origin`); a state-changing request or a WebSocket
    handshake from another site or origin is refused. Requests without those
    headers come from programs (curl, the SDK, `opencode attach`) and pass.
    """
    if method in _SAFE_METHODS and not websocket:
        return None
    site = headers.get("Sec-Fetch-Site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        return f"a page on another site sent this request (Sec-Fetch-Site: {site})"
    origin = headers.get("Origin")
    if origin is None:
        return None
    if own_host is None:
        return "the proxy did not say which host the request was sent to (X-Original-Host)"
    seen = _authority(origin)
    if seen is None or not _same_host(seen, own_host):
        return "a page of another origin sent this request (Origin does not match Host)"
    return None


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _authority(origin: str) -> tuple[str, str] | None:
    """(host, port) of an Origin, the port filled in from the scheme; None for
    `null` and anything that is not an http(s) origin."""
    from urllib.parse import urlsplit

    parts = urlsplit(origin.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname.lower(), str(port) if port else _DEFAULT_PORTS[parts.scheme]


def _same_host(origin: tuple[str, str], host: str) -> bool:
    """The Origin names the host (and port) the request was sent to. A Host
    without a port means the scheme's default one, whichever scheme the page used
    (behind a TLS proxy the gateway itself speaks plain HTTP)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit("//" + host.strip())
        own_host, own_port = parts.hostname, parts.port
    except ValueError:
        return False
    if own_host is None or own_host.lower() != origin[0]:
        return False
    if own_port is None:
        return origin[1] in _DEFAULT_PORTS.values()
    return str(own_port) == origin[1]
