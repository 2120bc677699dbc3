"""A token's browser sessions in words: the details screen's list, the pairing
modal's "used" line, and the question before they are ended.

A session's client address and User-Agent come from the browser (a header anyone
can set), so they are escaped like names and cut to a length a modal can show;
the texts are `Content`, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from textual.content import Content

from core.model.records import PairingRecord, SessionRecord
from core.model.text import escape_controls
from core.present import counted, relative_time

USER_AGENT_SHOWN = 160  # characters of a User-Agent shown; the rest is "…"
_VIA_WORDS = {"login": "the login page", "pairing": "a pairing link"}


def live_sessions(sessions: Iterable[SessionRecord], now: datetime) -> list[SessionRecord]:
    """The sessions that still sign a browser in, newest first (expired ones stay in
    the store until its next change)."""
    return sorted(
        (s for s in sessions if not s.is_expired(now)), key=lambda s: s.created_at, reverse=True
    )


def live_pairings(pairings: Iterable[PairingRecord], token_id: str, now: datetime) -> int:
    """How many of a token's pairing links could still be used."""
    return sum(1 for p in pairings if p.token_id == token_id and not p.is_expired(now))


def client_words(session: SessionRecord) -> str:
    return escape_controls(session.client) if session.client else "an unknown address"


def browser_words(session: SessionRecord) -> str:
    """The User-Agent, escaped and cut, or what stands for none."""
    agent = session.user_agent
    if not agent:
        return "no User-Agent"
    shown = escape_controls(agent)
    return shown if len(shown) <= USER_AGENT_SHOWN else shown[: USER_AGENT_SHOWN - 1] + "…"


def session_block(session: SessionRecord, now: datetime) -> Content:
    """Three lines: id, where from and when last seen; how and when it began and
    when it ends; the browser."""
    seen = "not yet" if session.last_seen_at is None else relative_time(session.last_seen_at, now)
    return Content.assemble(
        (session.id, "bold"),
        f" · from {client_words(session)} · last seen {seen}\n",
        (
            f"signed in {relative_time(session.created_at, now)} via "
            f"{_VIA_WORDS[session.via]} · ends {relative_time(session.expires_at, now)}\n",
            "$text-muted",
        ),
        (browser_words(session), "$text-muted"),
    )


def sessions_text(sessions: Sequence[SessionRecord], now: datetime) -> Content:
    """The details' `sessions` row: `none`, or a count and a block per session."""
    if not sessions:
        return Content.styled("none: no browser is signed in as this token", "$text-muted")
    head = Content(f"{counted(len(sessions), 'browser')} signed in as this token:")
    return Content("\n").join([head, *(session_block(s, now) for s in sessions)])


def ending_words(sessions: int, pairings: int) -> str:
    """`2 browser sessions and 1 unused pairing link`, `1 browser session`, ..."""
    parts = []
    if sessions:
        parts.append(counted(sessions, "browser session"))
    if pairings:
        parts.append(counted(pairings, "unused pairing link"))
    return " and ".join(parts)
