"""PTY tickets: a terminal WebSocket authorized by the token that asked for its ticket.

opencode's web app opens a terminal in two steps: `POST /pty/{id}/connect-token`
(an ordinary, authenticated request) returns a single-use ticket valid for 60
seconds, and the WebSocket `GET /pty/{id}/connect?ticket=...` presents it -
because a browser cannot put headers on a WebSocket. opencode checks the ticket
itself and lets the connection in without its password.

The gateway does not let a ticket stand in for a token on its own. When it
relays a connect-token answer, it remembers which credentials asked for that
ticket; a WebSocket that then presents the ticket and no credentials of its own
is decided with those credentials, exactly as if it had sent them: the token is
looked up again (a revoked or expired one is refused), must hold what the
connect operation needs (read and execute) and stay in its directories. The
ticket is forgotten when used or after its lifetime. A connection that brings
its own credentials (a browser sends the Basic password it was given) is
decided on those. Unknown tickets without credentials get 401: opencode's ticket
is never the only thing standing in the way.

forward-auth never sees the connect-token answer, so behind nginx or Caddy a
terminal needs the browser's own credentials (which it sends) or the
`bearer, <token>` subprotocol.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable

from core.gateway.guard import Credentials

CONNECT_TOKEN_RULES = frozenset(
    {"POST /pty/{ptyID}/connect-token", "POST /api/pty/{ptyID}/connect-token"}
)
CONNECT_RULES = frozenset({"GET /pty/{ptyID}/connect", "GET /api/pty/{ptyID}/connect"})
TICKET_LIFETIME = 60.0
MAX_TICKETS = 1024
MAX_ANSWER = 64 * 1024


class Tickets:
    def __init__(self, lifetime: float = TICKET_LIFETIME) -> None:
        self._lifetime = lifetime
        self._issued: OrderedDict[str, tuple[float, Credentials]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._issued)

    def remember(self, answer: bytes, asked: Credentials) -> bool:
        """Note the ticket in a connect-token answer as asked for with `asked`."""
        try:
            ticket = json.loads(answer).get("ticket")
        except (ValueError, AttributeError):
            return False
        if not isinstance(ticket, str) or not ticket:
            return False
        self._expire()
        self._issued[ticket] = (time.monotonic() + self._lifetime, asked)
        while len(self._issued) > MAX_TICKETS:
            self._issued.popitem(last=False)
        return True

    def redeem(self, ticket: str) -> Credentials | None:
        """The credentials that asked for `ticket` (once), or None."""
        self._expire()
        found = self._issued.pop(ticket, None)
        return None if found is None else found[1]

    def forget_unless(self, still_valid: Callable[[Credentials], bool]) -> int:
        """Forget the tickets whose credentials no longer pass `still_valid` (the
        store changed); how many were forgotten."""
        gone = [t for t, (_, auth) in self._issued.items() if not still_valid(auth)]
        for ticket in gone:
            del self._issued[ticket]
        return len(gone)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._issued:
            ticket, (deadline, _) = next(iter(self._issued.items()))
            if deadline > now:
                break
            del self._issued[ticket]
