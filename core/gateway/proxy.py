"""The gateway: an authenticating reverse proxy in front of `opencode serve`.

Every request is decided first (core's `CachedAuthorizer.decide`, via guard.py);
only an allowed one is forwarded, with the client's credentials replaced by
opencode's own Basic credentials: plain requests by relay.py (nothing buffered
whole, event streams event by event), WebSocket upgrades by websocket.py.

The request decided is the request forwarded. The target goes on byte for
byte as received - except that an `auth_token` query parameter (credentials,
already decided on) is taken out: opencode would otherwise read it as its own
password. The headers are filtered first (headers.py) and the decision reads
the filtered set, so a header that a client's `Connection` list (or anything
else) removes is one the decision never saw either.

Event streams and WebSockets are held open in `OpenConnections` (live.py) and
decided again whenever the store changes or their token expires: a revoked
token's stream ends and its terminal closes (1008) within a fraction of a
second. Every API answer carries `ContentSafety`'s headers (a sandbox CSP,
`nosniff`), so a project's files never run as pages of the gateway's origin.

Failures answer with JSON `{"error", "message"}`: 502 when opencode cannot be
reached (or refuses the gateway's credentials), 504 when it is too slow, 408
when the client is too slow sending its body, 503 while the token store is
unreadable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import (
    ClientSession,
    ClientTimeout,
    DummyCookieJar,
    TCPConnector,
    hdrs,
    web,
)
from multidict import CIMultiDict
from yarl import URL

from core.authz.policy import Policy
from core.authz.rules import logged_path
from core.gateway.access_log import note
from core.gateway.guard import (
    Credentials,
    Guard,
    Subprotocols,
    credentials,
    error_response,
    is_websocket_upgrade,
    split_subprotocols,
    without_query_credentials,
)
from core.gateway.headers import (
    SKIP_AUTO_HEADERS,
    ContentSafety,
    method_override,
    method_override_message,
    undecodable_header,
    upstream_request_headers,
)
from core.gateway.live import OpenConnections, Revocable
from core.gateway.public import is_public, public_headers
from core.gateway.relay import Relay, seconds
from core.gateway.settings import GatewayConfig
from core.gateway.signin import (
    COOKIE,
    SECURE_COOKIE,
    SignIn,
    clear_cookie,
    cookie_value,
    is_navigation,
    login_location,
    owns,
    redirect,
)
from core.gateway.tickets import CONNECT_RULES, CONNECT_TOKEN_RULES, Tickets
from core.gateway.upstream_info import OpencodeInfo, ScopeLearner
from core.gateway.usage import UsageRecorder
from core.gateway.websocket import OpenSockets, bridge


class Gateway:
    service = "gateway"

    def __init__(
        self,
        config: GatewayConfig,
        guard: Guard,
        *,
        policy: Policy,
        opencode: OpencodeInfo,
        learner: ScopeLearner,
        signin: SignIn,
        usage: UsageRecorder | None = None,
    ) -> None:
        """Built by wiring.py, with every part it uses; `start` only starts them."""
        self.signin = signin
        self.config = config
        self.guard = guard
        self.usage = usage
        self.info = opencode
        self.learner = learner
        self._policy = policy
        self._base = config.upstream
        self._read = seconds(config.timeouts.read)
        self._heartbeat = config.websocket_heartbeat or None
        self._scheme = "https" if config.tls else "http"
        self._session: ClientSession | None = None
        self._sockets = OpenSockets()
        self.tickets = Tickets()
        self.safety = ContentSafety(policy)
        self.live = OpenConnections(guard.authorizer, warn=guard.warn, changed=self._forget_tickets)
        self.relay = Relay(config, self.tickets, self.live)

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        self._session = ClientSession(
            connector=TCPConnector(limit=0, keepalive_timeout=15.0, enable_cleanup_closed=False),
            cookie_jar=DummyCookieJar(),  # never carry one client's cookies to another
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=SKIP_AUTO_HEADERS,
            timeout=ClientTimeout(
                total=None, connect=None, sock_connect=seconds(self.config.timeouts.connect)
            ),
        )
        self.info.attach(self._session)
        self.relay.session = self._session
        self.learner.start()
        self.live.start()
        if self.usage is not None:
            self.usage.start()

    async def drain(self) -> None:
        """Shutting down: end event streams and WebSockets; other requests finish."""
        self.relay.drain()
        await self._sockets.close_all()

    async def close(self) -> None:
        await self.live.close()
        await self.learner.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
            self.relay.session = None
        if self.usage is not None:
            await self.usage.close()

    @property
    def session(self) -> ClientSession:
        if self._session is None:
            raise RuntimeError("Gateway.start() was not awaited")
        return self._session

    # --- one request --------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raw = request.raw_path
        if not raw.startswith("/"):
            note(request, "bad_request", "")
            return error_response(
                400, "bad_request", "the request target must be a path (origin-form)"
            )
        if undecodable_header(request.raw_headers):
            note(request, "bad_request", logged_path(raw))
            return error_response(
                400,
                "bad_request",
                "a header is not valid UTF-8: it would not reach opencode as it was sent",
            )
        override = method_override(request.headers)
        if override is not None:
            note(request, "bad_request", logged_path(raw))
            return error_response(400, "bad_request", method_override_message(override))
        if owns(raw):
            return await self.signin.handle(request)
        websocket = is_websocket_upgrade(request)
        subprotocols = (
            split_subprotocols(request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL))
            if websocket
            else None
        )
        secure = self.config.tls
        found = self._credentials(request, raw, subprotocols, websocket, secure)
        if not found and is_public(request, raw):
            public = await self.relay.public(
                request,
                URL(self._base + raw, encoded=True),
                public_headers(request, self._scheme),
                logged_path(raw),
            )
            if public is not None:
                return public
        # What goes to opencode, built before the decision so the decision reads it.
        headers = upstream_request_headers(
            request.headers,
            authorization=self.config.authorization,
            client_ip=request.remote,
            scheme=self._scheme,
            websocket=websocket,
            drop_cookies=(COOKIE, SECURE_COOKIE),
        )
        decision = await self.guard.admit(
            request,
            found,
            request.method,
            raw,
            own_host=request.headers.get(hdrs.HOST),
            websocket=websocket,
            headers=headers,
        )
        if isinstance(decision, web.StreamResponse):
            if decision.status == 401 and is_navigation(request.method, request.headers):
                # A browser without a (valid) session: the login page, then back here.
                # back to where it was going, without a refused `auth_token` (it would
                # win over the new session's cookie, and send the browser round again)
                answer = redirect(login_location(without_query_credentials(raw)))
                if found.cookie is not None:
                    clear_cookie(answer, secure=secure)
                return answer
            return decision
        if decision.token_id is not None and self.usage is not None:
            self.usage.seen(decision.token_id, request.remote)
        if decision.session_id is not None and self.usage is not None:
            self.usage.seen_session(decision.session_id, request.remote)
        remember = found if decision.rule in CONNECT_TOKEN_RULES and found else None
        revocable = None
        if decision.token_id is not None and found:
            revocable = Revocable(
                decision.token_id,
                self._recheck(found, request.method, raw, headers),
                self.live,
                decision.session_id,
            )

        url = URL(self._base + without_query_credentials(raw), encoded=True)
        if subprotocols is not None:
            response, failure = await bridge(
                request,
                session=self.session,
                url=url,
                headers=headers,
                subprotocols=subprotocols,
                connect_wait=self._read,
                heartbeat=self._heartbeat,
                registry=self._sockets,
                revocable=revocable,
            )
            if failure is not None:
                note(request, failure, decision.path, decision.token_id)
            return response
        return await self.relay.forward(
            request,
            url,
            headers,
            decision.path,
            decision.token_id,
            self.safety.headers(decision.rule),
            remember,
            revocable,
        )

    def _credentials(
        self,
        request: web.BaseRequest,
        raw: str,
        subprotocols: Subprotocols | None,
        websocket: bool,
        secure: bool,
    ) -> Credentials:
        """`?auth_token=`, the Authorization header, the WebSocket subprotocol's
        token; for a terminal with only a ticket, what asked for the ticket; else the
        sign-in cookie."""
        authorization = credentials(request, subprotocols)
        if authorization is not None:
            return Credentials(authorization)
        if websocket:
            asked = self._ticket_credentials(raw)
            if asked is not None:
                return asked
        return Credentials(cookie=cookie_value(request.headers, secure))

    def _recheck(
        self, found: Credentials, method: str, raw: str, headers: CIMultiDict[str]
    ) -> Callable[[], Awaitable[str | None]]:
        """Deciding an open connection again, on the same credentials, method,
        target and forwarded headers as its own request (live.py)."""

        async def recheck() -> str | None:
            decision = await self.guard.decide(found, method, raw, headers)
            if decision is None:
                return "the token store cannot be read"
            if isinstance(decision, web.StreamResponse):
                return "the session's directory could not be checked"
            if decision.allowed:
                return None
            return f"{decision.reason.value}: {decision.message or decision.reason.value}"

        return recheck

    def _forget_tickets(self) -> None:
        """The store changed: PTY tickets whose credentials no longer pass are
        forgotten (a ticket is redeemed only after its credentials are decided
        again anyway; this keeps none of a revoked token's around)."""
        authorizer = self.guard.authorizer
        self.tickets.forget_unless(
            lambda asked: authorizer.still_valid(asked.authorization, cookie=asked.cookie)
        )

    def _ticket_credentials(self, raw: str) -> Credentials | None:
        """For a terminal WebSocket with a ticket and no credentials: the ones that
        asked for the ticket (tickets.py)."""
        from core.authz.scope import query_values

        if self._policy.classify("GET", raw).rule_name not in CONNECT_RULES:
            return None
        tickets = query_values(raw, "ticket")
        return self.tickets.redeem(tickets[0]) if len(tickets) == 1 else None
