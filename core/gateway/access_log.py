"""One JSON line per request, with nothing secret in it.

Fields: time (UTC), service, method, path (normalised by core.rules, so the query
string - which may carry anything - is never logged), status, reason, rule (the
policy row that decided, or `unclassified`), token_id (the public id, never the
token), duration_ms and remote (the peer's address).
No header value is ever written: not Authorization, not cookies, not the
`Sec-WebSocket-Protocol` entry that carries a browser's token.

aiohttp calls the logger for every request it answers, including the ones it
rejects itself (oversized headers, bad request lines); handlers leave what they
decided on the request (`note`) and the logger reads it back.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from core.clock import Clock, system_clock

LOGGER_NAME = "opencode_auth_tui.access"
_MAX_METHOD = 32


@dataclass(slots=True)
class Outcome:
    reason: str
    path: str
    token_id: str | None = None
    rule: str | None = None
    status: int | None = None
    """Set once a status line has gone out (streams, WebSockets): what to log if
    the client leaves before the handler returns."""


_KEY: Any
try:
    from aiohttp.web import RequestKey

    _KEY = RequestKey("opencode_auth_tui.outcome", Outcome)
except ImportError:  # aiohttp < 3.14 keys requests by plain strings
    _KEY = "opencode_auth_tui.outcome"


def note(
    request: BaseRequest,
    reason: str,
    path: str,
    token_id: str | None = None,
    rule: str | None = None,
) -> None:
    """Remember what was decided about `request`, for its access log line (a later
    note about the same request keeps the policy rule the decision named)."""
    if rule is None:
        earlier = noted(request)
        rule = None if earlier is None else earlier.rule
    request[_KEY] = Outcome(reason, path, token_id, rule)


def note_status(request: BaseRequest, status: int) -> None:
    outcome = noted(request)
    if outcome is not None:
        outcome.status = status


def noted(request: BaseRequest) -> Outcome | None:
    outcome = request.get(_KEY)
    return outcome if isinstance(outcome, Outcome) else None


def format_line(
    *,
    when: datetime,
    service: str,
    method: str,
    path: str,
    status: int,
    reason: str,
    token_id: str | None,
    duration: float,
    remote: str | None,
    rule: str | None = None,
) -> str:
    return json.dumps(
        {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": service,
            "method": method[:_MAX_METHOD],
            "path": path,
            "status": status,
            "reason": reason,
            "rule": rule,
            "token_id": token_id,
            "duration_ms": round(duration * 1000, 3),
            "remote": remote,
        },
        ensure_ascii=True,
        separators=(",", ":"),
    )


def _fallback_reason(status: int) -> str:
    if status == 400:
        return "bad_request"
    if status == 431:
        return "headers_too_large"
    return "error"


CLIENT_CLOSED = 499  # nginx's code for "the client closed the connection first"


def log_cancelled(
    logger: logging.Logger,
    service: str,
    request: BaseRequest,
    duration: float,
    clock: Clock = system_clock,
) -> None:
    """The line for a request whose handler was cancelled because its client left
    (aiohttp logs nothing then); the status is what was sent, else 499."""
    outcome = noted(request) or Outcome("client_gone", "")
    logger.info(
        format_line(
            when=clock(),
            service=service,
            method=request.method,
            path=outcome.path,
            status=outcome.status or CLIENT_CLOSED,
            reason="client_gone" if outcome.reason in ("ok", "public") else outcome.reason,
            token_id=outcome.token_id,
            duration=duration,
            remote=request.remote,
            rule=outcome.rule,
        )
    )


def logger_class(service: str, clock: Clock = system_clock) -> type[AbstractAccessLogger]:
    """An aiohttp access-logger class writing our JSON lines for `service`."""

    class JsonAccessLogger(AbstractAccessLogger):
        def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
            outcome = noted(request)
            if outcome is None:
                outcome = Outcome(_fallback_reason(response.status), "")
            self.logger.info(
                format_line(
                    when=clock(),
                    service=service,
                    method=request.method,
                    path=outcome.path,
                    status=response.status,
                    reason=outcome.reason,
                    token_id=outcome.token_id,
                    duration=time,
                    remote=request.remote,
                    rule=outcome.rule,
                )
            )

    return JsonAccessLogger


def open_access_log(target: str) -> logging.Logger | None:
    """`-` for stdout, `off` for none, else a file appended to (created 0600)."""
    if target == "off":
        return None
    logger = logging.Logger(LOGGER_NAME, logging.INFO)  # private: not in the global registry
    logger.propagate = False
    handler: logging.Handler
    if target == "-":
        handler = logging.StreamHandler(sys.stdout)
    else:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8", buffering=1))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger
