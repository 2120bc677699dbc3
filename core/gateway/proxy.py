"""The gateway: an authenticating reverse proxy in front of `opencode serve`.

Every request is decided first (core's `CachedAuthorizer.decide`, via guard.py);
only an allowed one is forwarded, with the client's credentials replaced by
opencode's own Basic credentials. Nothing is buffered whole:

- the request body is passed on piece by piece as it arrives (and `Expect:
  100-continue` is answered only after the decision, so a denied client never
  uploads);
- the response is relayed piece by piece as opencode sends it, which is what
  makes Server-Sent Events (`/event`, `/global/event`) arrive event by event;
- WebSocket upgrades go to websocket.py.

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

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientResponse,
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
from core.gateway.access_log import note, note_status
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
    SafetyHeaders,
    add_safety,
    downstream_response_headers,
    upstream_request_headers,
)
from core.gateway.live import Held, OpenConnections, Revocable
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
from core.gateway.tickets import CONNECT_RULES, CONNECT_TOKEN_RULES, MAX_ANSWER, Tickets
from core.gateway.upstream_info import OpencodeInfo, ScopeLearner
from core.gateway.usage import UsageRecorder
from core.gateway.websocket import CREDENTIALS_MESSAGE, OpenSockets, bridge

SSE = "text/event-stream"
# Below aiohttp's own write-buffer limit (64 KiB) a write returns without waiting
# for the client, so it needs no timer.
_NO_WAIT_WRITE = 32 * 1024


def _seconds(value: float) -> float | None:
    return value if value > 0 else None


class _ClientBody:
    """The client's request body as an async iterator, with a per-piece timeout."""

    def __init__(self, request: web.BaseRequest, timeout: float | None) -> None:
        self._content = request.content
        self._timeout = timeout
        self.timed_out = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    chunk = await self._content.readany()
            except TimeoutError:
                self.timed_out = True
                raise
            if not chunk:
                return
            yield chunk


class _Abort(Exception):
    """Stop relaying a response already started; the reason goes to the access log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        self._read = _seconds(config.timeouts.read)
        self._client_timeout = _seconds(config.limits.client_timeout)
        self._heartbeat = config.websocket_heartbeat or None
        self._scheme = "https" if config.tls else "http"
        self._session: ClientSession | None = None
        self._sockets = OpenSockets()
        self.tickets = Tickets()
        self._streams: set[ClientResponse] = set()
        self._draining = False
        self.safety = ContentSafety(policy)
        self.live = OpenConnections(guard.authorizer, warn=guard.warn, changed=self._forget_tickets)

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        self._session = ClientSession(
            connector=TCPConnector(limit=0, keepalive_timeout=15.0, enable_cleanup_closed=False),
            cookie_jar=DummyCookieJar(),  # never carry one client's cookies to another
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=SKIP_AUTO_HEADERS,
            timeout=ClientTimeout(
                total=None, connect=None, sock_connect=_seconds(self.config.timeouts.connect)
            ),
        )
        self.info.attach(self._session)
        self.learner.start()
        self.live.start()
        if self.usage is not None:
            self.usage.start()

    async def drain(self) -> None:
        """Shutting down: end event streams and WebSockets; other requests finish."""
        self._draining = True
        for upstream in list(self._streams):
            upstream.close()
        await self._sockets.close_all()

    async def close(self) -> None:
        await self.live.close()
        await self.learner.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
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
                answer = redirect(login_location(raw))
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
        return await self._forward(
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

    async def _forward(
        self,
        request: web.BaseRequest,
        url: URL,
        headers: CIMultiDict[str],
        path: str,
        token_id: str | None,
        safety: SafetyHeaders = (),
        remember_ticket_for: Credentials | None = None,
        revocable: Revocable | None = None,
    ) -> web.StreamResponse:
        def fail(status: int, reason: str, message: str) -> web.Response:
            note(request, reason, path, token_id)
            return error_response(status, reason, message)

        body = None
        if request.body_exists:
            if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = _ClientBody(request, self._client_timeout)
        try:
            async with asyncio.timeout(self._read):
                upstream = await self.session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=None if body is None else body.chunks(),
                    allow_redirects=False,
                    compress=None,
                )
        except TimeoutError:
            if body is not None and body.timed_out:
                return fail(408, "client_timeout", "the request body arrived too slowly")
            return fail(
                504,
                "upstream_timeout",
                f"opencode did not answer within {self.config.timeouts.read:g} s",
            )
        except ClientConnectorError as exc:
            return fail(
                502,
                "upstream_unavailable",
                f"opencode is not reachable at {self._base}: {exc.os_error.strerror or exc}",
            )
        except ClientError as exc:
            if body is not None and body.timed_out:
                return fail(408, "client_timeout", "the request body arrived too slowly")
            return fail(
                502,
                "upstream_unavailable",
                f"opencode closed the connection before answering ({type(exc).__name__})",
            )
        try:
            if upstream.status == 401 and upstream.headers.get(
                hdrs.WWW_AUTHENTICATE, ""
            ).lower().startswith("basic"):
                return fail(502, "upstream_auth_failed", CREDENTIALS_MESSAGE)
            if remember_ticket_for is not None and upstream.status == 200:
                return await self._ticket_answer(request, upstream, remember_ticket_for, safety)
            return await self._relay(request, upstream, path, token_id, safety, revocable)
        finally:
            upstream.release()

    async def _ticket_answer(
        self,
        request: web.BaseRequest,
        upstream: ClientResponse,
        asked: Credentials,
        safety: SafetyHeaders,
    ) -> web.StreamResponse:
        """A connect-token answer (small JSON): read whole, its ticket remembered."""
        async with asyncio.timeout(self._read):
            answer = await upstream.read()  # opencode's own small JSON
        if len(answer) <= MAX_ANSWER:
            self.tickets.remember(answer, asked)
        response = web.Response(
            status=upstream.status,
            body=answer,
            headers=add_safety(downstream_response_headers(upstream.headers), safety),
        )
        note_status(request, response.status)
        return response

    async def _relay(
        self,
        request: web.BaseRequest,
        upstream: ClientResponse,
        path: str,
        token_id: str | None,
        safety: SafetyHeaders,
        revocable: Revocable | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=upstream.status,
            reason=upstream.reason,
            headers=add_safety(downstream_response_headers(upstream.headers), safety),
        )
        length = upstream.content_length
        if (
            length is not None
            and "chunked" not in upstream.headers.get(hdrs.TRANSFER_ENCODING, "").lower()
        ):
            response.content_length = length
        stream = upstream.content_type == SSE
        # An event stream may stay quiet for long: only its client side is timed.
        read_timeout = None if stream else self._read
        held: Held | None = None
        if stream:
            self._streams.add(upstream)
            if revocable is not None:
                held = revocable.hold(_end_stream(upstream))
        body = upstream.content
        try:
            try:
                pending = body.read_nowait()
            except ClientError:
                pending = b""  # the loop below meets the same error and reports it
            if (
                body.at_eof()
                and response.content_length is None
                and request.method != hdrs.METH_HEAD
            ):
                # The whole (chunked) body is already here: answer with a
                # Content-Length in one write instead of chunk framing.
                response.content_length = len(pending)
            await response.prepare(request)
            note_status(request, response.status)
            while True:
                # Timers cost more than the rest of a small response: take what is
                # already buffered without one, and time only real waits.
                try:
                    chunk, pending = (pending, b"") if pending else (body.read_nowait(), b"")
                    if not chunk and not body.at_eof():
                        async with asyncio.timeout(read_timeout):
                            chunk = await body.readany()
                except TimeoutError:
                    raise _Abort("upstream_timeout") from None
                except ClientError:
                    if stream and (self._draining or (held is not None and held.ended)):
                        break
                    raise _Abort("upstream_aborted") from None
                if not chunk:
                    break
                transport = request.transport
                if (
                    transport is not None
                    and transport.get_write_buffer_size() + len(chunk) < _NO_WAIT_WRITE
                ):
                    await response.write(chunk)  # fits in the buffers: cannot block
                else:
                    try:
                        async with asyncio.timeout(self._client_timeout):
                            await response.write(chunk)
                    except TimeoutError:
                        raise _Abort("client_timeout") from None
            if held is not None and held.ended:
                note(request, "revoked", path, token_id)
                response.force_close()
            await response.write_eof()
        except _Abort as abort:
            note(request, abort.reason, path, token_id)
            if request.transport is not None:
                request.transport.close()  # the client sees a truncated, not a complete, body
        except (ConnectionError, ClientError):
            note(request, "client_gone", path, token_id)
        finally:
            self._streams.discard(upstream)
            if held is not None:
                self.live.release(held)
        return response


def _end_stream(upstream: ClientResponse) -> Callable[[str], Awaitable[None]]:
    """Ending an event stream: its upstream side is closed, the relay loop meets
    the end, and the client's stream is ended (the relay logs `revoked`)."""

    async def end(why: str) -> None:
        upstream.close()

    return end
