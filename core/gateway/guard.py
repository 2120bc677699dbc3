"""From a request to core's decision, and from a denial to its HTTP answer.

The decision itself is `CachedAuthorizer.decide`, unchanged; this module only
finds the credentials and shapes the answers both servers give:

- credentials come from `Authorization`, or - for a WebSocket handshake, where
  browsers cannot set headers - from `Sec-WebSocket-Protocol: bearer, <token>`.
  Never from a query parameter: URLs end up in logs, histories and Referer headers.
- a denial is JSON `{"error", "required", "granted"}` with the RFC 6750 challenge.
- a store that cannot be read refuses everything with 503 (fail closed); the
  precise problem, which names a path on the server, goes to the operator's log,
  not to the client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import hdrs, web

from core.authorize import CachedAuthorizer, Decision
from core.errors import StoreError
from core.gateway.access_log import note
from core.permissions import canonical
from core.rules import normalize_path

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

    @property
    def bearer_offered(self) -> bool:
        return self.bearer is not None


def split_subprotocols(value: str | None) -> Subprotocols:
    """`bearer, <token>[, other...]`: the entry after `bearer` is the token."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
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


def credentials(request: web.BaseRequest, subprotocols: Subprotocols | None) -> str | None:
    """The `Authorization` value to decide on: the header, else the WS subprotocol token."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        return header
    if subprotocols is not None and subprotocols.token is not None:
        return f"Bearer {subprotocols.token}"
    return None


def json_response(
    status: int, payload: dict[str, object], headers: dict[str, str] | None = None
) -> web.Response:
    all_headers: dict[str, str] = {"Cache-Control": _NO_STORE}
    if headers:
        all_headers.update(headers)
    return web.Response(
        status=status,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        content_type=JSON,
        headers=all_headers,
    )


def denial_body(decision: Decision) -> dict[str, object]:
    return {
        "error": decision.reason.value,
        "required": [p.value for p in canonical(decision.required)],
        "granted": [p.value for p in canonical(decision.granted)],
    }


def denial(decision: Decision) -> web.Response:
    """401/403 with the body and the `WWW-Authenticate` challenge of `decision`."""
    challenge = decision.www_authenticate()
    headers = {"WWW-Authenticate": challenge} if challenge else None
    return json_response(decision.status, denial_body(decision), headers)


def error_response(status: int, error: str, message: str) -> web.Response:
    return json_response(status, {"error": error, "message": message})


STORE_UNAVAILABLE_MESSAGE = (
    "the token store cannot be read, so every request is refused until it is fixed "
    "(the gateway's log says what is wrong)"
)


class Guard:
    """Decides requests; turns a broken store into 503 and tells the operator once."""

    def __init__(
        self,
        authorizer: CachedAuthorizer,
        *,
        warn: Callable[[str], None],
        repeat_after: float = 60.0,
    ) -> None:
        self.authorizer = authorizer
        self._warn = warn
        self._repeat_after = repeat_after
        self._last_problem: str | None = None
        self._last_warned = 0.0

    def decide(self, authorization: str | None, method: str, raw_path: str) -> Decision | None:
        """The decision, or None when the store is unreadable (answer 503)."""
        try:
            decision = self.authorizer.decide(authorization, method, raw_path)
        except StoreError as exc:
            self._report(exc)
            return None
        if self._last_problem is not None:
            self._warn("the token store is readable again; requests are decided normally")
            self._last_problem = None
        return decision

    def admit(
        self, request: web.BaseRequest, authorization: str | None, method: str, raw_path: str
    ) -> Decision | web.Response:
        """The decision when the request is allowed, else the answer refusing it
        (503 for an unreadable store, 401/403 with the challenge); either way the
        outcome is noted for the access log."""
        decision = self.decide(authorization, method, raw_path)
        if decision is None:
            note(request, "store_unavailable", self.log_path(raw_path))
            return self.store_unavailable()
        note(request, decision.reason.value, decision.path, decision.token_id)
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
        """The normalised path for the access log when there is no decision."""
        return normalize_path(raw_path)
