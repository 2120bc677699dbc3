"""A browser session as the CLI shows it: the 80-column table of `session list`,
the lines under `token show`, and its JSON.

A session's client address and User-Agent come from the browser (a proxy's
X-Forwarded-For, a header anyone can set), so they pass `escape_controls` like
names do, and are cut to fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.model.records import SessionRecord, TokenRecord
from core.model.text import escape_controls
from core.present import fit, relative_time

SESSION_JSON_FIELDS = (
    "id",
    "token_id",
    "token_name",
    "created_at",
    "expires_at",
    "last_seen_at",
    "client",
    "user_agent",
    "via",
    "status",
)

_COLUMNS = (("ID", 8), ("TOKEN", 20), ("LAST SEEN", 14), ("FROM", 15), ("EXPIRES", 13))
_VIA_WORDS = {"login": "the login page", "pairing": "a pairing link"}
_INDENT = " " * 10


def session_status(session: SessionRecord, now: datetime) -> str:
    return "expired" if session.is_expired(now) else "active"


def session_json(
    session: SessionRecord,
    token: TokenRecord | None,
    now: datetime,
    fields: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The record's fields (minus the digest), its token's name and a `status`."""
    data = session.public_dict()
    data["token_name"] = None if token is None else token.name
    data["status"] = session_status(session, now)
    ordered = {field: data[field] for field in SESSION_JSON_FIELDS}
    return ordered if fields is None else {field: ordered[field] for field in fields}


def _cell(text: str | None, none: str = "unknown") -> str:
    return none if text is None else escape_controls(text)


def _ends(session: SessionRecord, now: datetime) -> str:
    if session.is_expired(now):
        return "expired"
    return relative_time(session.expires_at, now)


def _seen(session: SessionRecord, now: datetime) -> str:
    return "not yet" if session.last_seen_at is None else relative_time(session.last_seen_at, now)


def _began(session: SessionRecord, now: datetime) -> str:
    return f"signed in {relative_time(session.created_at, now)} via {_VIA_WORDS[session.via]}"


def session_table(
    sessions: Sequence[SessionRecord],
    token_of: Callable[[str], TokenRecord | None],
    now: datetime,
) -> list[str]:
    """An aligned table that fits 80 columns; under each row, how it began and the
    browser (its User-Agent, escaped and cut)."""
    gap = "  "
    lines = [gap.join(fit(title, width) for title, width in _COLUMNS).rstrip()]
    for session in sessions:
        token = token_of(session.token_id)
        name = session.token_id if token is None else escape_controls(token.name)
        cells = (session.id, name, _seen(session, now), _cell(session.client), _ends(session, now))
        row = gap.join(fit(text, width) for text, (_, width) in zip(cells, _COLUMNS, strict=True))
        lines.append(row.rstrip())
        agent = _cell(session.user_agent)
        lines.append(fit(f"{_INDENT}{_began(session, now)}; {agent}", 80).rstrip())
    return lines


def session_lines(sessions: Sequence[SessionRecord], now: datetime) -> list[str]:
    """`token show`'s rows for the token's sessions, under a `sessions` label: per
    session, its id, where from, when last seen and when it ends; then how it
    began and the browser."""
    if not sessions:
        return [f"{'sessions':<12} none"]
    count = len(sessions)
    lines = [f"{'sessions':<12} {count} browser{'' if count == 1 else 's'} signed in"]
    pad = " " * 12
    for session in sessions:
        first = (
            f"  {session.id}  from {_cell(session.client)}, last seen {_seen(session, now)}, "
            f"ends {_ends(session, now)}"
        )
        lines.append(fit(first, 80).rstrip())
        agent = _cell(session.user_agent)
        lines.append(fit(f"{pad}{_began(session, now)}; {agent}", 80).rstrip())
    return lines
