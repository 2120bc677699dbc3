"""One JSON line per request, with nothing secret in it.

Fields: time (UTC), service, method, path (normalised by core.authz.rules, so the query
string - which may carry anything - is never logged), status, reason, rule (the
policy row that decided, or `unclassified`), token_id (the public id, never the
token), duration_ms and remote (the peer's address).
No header value is ever written: not Authorization, not cookies, not the
`Sec-WebSocket-Protocol` entry that carries a browser's token.

aiohttp calls the logger for every request it answers, including the ones it
rejects itself (oversized headers, bad request lines); handlers leave what they
decided on the request (`note`) and the logger reads it back.

Lines are formatted directly (no `logging` record, no dict through json.dumps:
only a field that needs escaping is escaped) and written in batches
(`BufferedLog`): at most 50 ms or 64 KB after a line is made, and at shutdown.
Writing one line per request through `logging` cost a quarter of forward-auth's
CPU.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from core.model.clock import Clock, system_clock

_MAX_METHOD = 32
_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII but `"` and `\`: JSON as it is


class AccessLog(Protocol):
    """Where access-log lines go."""

    def write(self, line: str) -> None: ...

    def flush(self) -> None: ...


@dataclass(slots=True)
class Outcome:
    reason: str
    path: str
    token_id: str | None = None
    rule: str | None = None
    method: str | None = None
    """The method decided on, when it is not the request's own (forward-auth:
    X-Original-Method; the auth subrequest itself is always a GET)."""
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
    method: str | None = None,
) -> None:
    """Remember what was decided about `request`, for its access log line (a later
    note about the same request keeps the policy rule and method named before)."""
    if rule is None or method is None:
        earlier = noted(request)
        if earlier is not None:
            rule = earlier.rule if rule is None else rule
            method = earlier.method if method is None else method
    request[_KEY] = Outcome(reason, path, token_id, rule, method)


def note_status(request: BaseRequest, status: int) -> None:
    outcome = noted(request)
    if outcome is not None:
        outcome.status = status


def noted(request: BaseRequest) -> Outcome | None:
    outcome = request.get(_KEY)
    return outcome if isinstance(outcome, Outcome) else None


def _text(value: str | None) -> str:
    if value is None:
        return "null"
    if _PLAIN.fullmatch(value) is not None:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=True)


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
    """One JSON object on one line, ASCII only; the same text as `json.dumps` of
    the fields with `ensure_ascii` and compact separators."""
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return (
        f'{{"time":"{stamp}","service":{_text(service)},"method":{_text(method[:_MAX_METHOD])},'
        f'"path":{_text(path)},"status":{int(status)},"reason":{_text(reason)},'
        f'"rule":{_text(rule)},"token_id":{_text(token_id)},'
        f'"duration_ms":{round(duration * 1000, 3)!r},"remote":{_text(remote)}}}'
    )


def _fallback_reason(status: int) -> str:
    if status == 400:
        return "bad_request"
    if status == 431:
        return "headers_too_large"
    return "error"


CLIENT_CLOSED = 499  # nginx's code for "the client closed the connection first"


def log_cancelled(
    log: AccessLog,
    service: str,
    request: BaseRequest,
    duration: float,
    clock: Clock = system_clock,
) -> None:
    """The line for a request whose handler was cancelled because its client left
    (aiohttp logs nothing then); the status is what was sent, else 499."""
    outcome = noted(request) or Outcome("client_gone", "")
    log.write(
        format_line(
            when=clock(),
            service=service,
            method=outcome.method or request.method,
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
            self.logger.write(  # type: ignore[attr-defined]  # an AccessLog, not a Logger
                format_line(
                    when=clock(),
                    service=service,
                    method=outcome.method or request.method,
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


class BufferedLog:
    """Access-log lines written in batches: `delay` seconds after the first line
    of a batch (on the running event loop), as soon as `limit` characters are
    waiting, and on `flush()` - which the listener calls when it stops. A line is
    never split. A write that fails (a full disk) is reported once through `warn`
    and its lines dropped; logging resumes when writing works again."""

    def __init__(
        self,
        stream: IO[str],
        *,
        delay: float = 0.05,
        limit: int = 64 * 1024,
        warn: Callable[[str], None] = lambda message: None,
        owned: bool = True,
    ) -> None:
        self._stream = stream
        self._delay = delay
        self._limit = limit
        self._warn = warn
        self._owned = owned
        self._lines: list[str] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._failing = False

    def write(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= self._limit:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a test, a last line at exit): now
                self.flush()
                return
            self._timer = loop.call_later(self._delay, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        self._size = 0
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            if not self._failing:
                self._failing = True
                self._warn(f"access log: cannot write ({exc}); lines are dropped until it works")
            return
        if self._failing:
            self._failing = False
            self._warn("access log: writing again")

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._stream.close()


def open_access_log(
    target: str, warn: Callable[[str], None] = lambda message: None
) -> BufferedLog | None:
    """`-` for stdout, `off` for none, else a file appended to (created 0600)."""
    if target == "off":
        return None
    if target == "-":
        return BufferedLog(sys.stdout, warn=warn, owned=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    return BufferedLog(os.fdopen(fd, "a", encoding="utf-8"), warn=warn)
