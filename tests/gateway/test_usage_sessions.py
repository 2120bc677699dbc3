"""The usage recorder with client addresses and browser sessions: `seen(token_id,
client)` and `seen_session(session_id, client)` batched once a minute each, and
written through the store (where from, and a session's last seen)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.gateway.usage import UsageRecorder
from core.store import TokenStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_uses_carry_the_client_and_sessions_are_batched_too(tmp_path: Path) -> None:
    clock = Clock()
    store = TokenStore(tmp_path / "auth-tokens.json", clock=clock)
    token = store.create(name="phone").record
    session = store.create_session("phone", client="192.0.2.1", user_agent="UA").record
    usage = UsageRecorder(store.record_usage, write_sessions=store.record_session_seen, clock=clock)
    for _ in range(50):
        usage.seen(token.id, "198.51.100.7")
        usage.seen_session(session.id, "198.51.100.7")
    assert usage.pending == {token.id: (clock.now, "198.51.100.7")}
    assert usage.pending_sessions == {session.id: (clock.now, "198.51.100.7")}
    await usage.flush()
    assert usage.pending == {} and usage.pending_sessions == {}
    assert store.get("phone").last_used_from == "198.51.100.7"
    (seen,) = store.sessions()
    assert seen.last_seen_at == clock.now and seen.client == "198.51.100.7"
    clock.now += timedelta(seconds=30)
    usage.seen_session(session.id, "203.0.113.1")  # within the minute: not noted
    assert usage.pending_sessions == {}
    clock.now += timedelta(seconds=31)
    usage.seen_session(session.id, "203.0.113.1")
    await usage.close()
    (seen,) = store.sessions()
    assert seen.client == "203.0.113.1"


async def test_a_failed_session_batch_is_retried_and_without_a_writer_nothing_is_kept() -> None:
    clock = Clock()
    calls: list[dict[str, tuple[datetime, str | None]]] = []
    warnings: list[str] = []

    def flaky(batch: Mapping[str, tuple[datetime, str | None]]) -> None:
        calls.append(dict(batch))
        if len(calls) == 1:
            raise OSError("disk full")

    usage = UsageRecorder(
        lambda batch: None, write_sessions=flaky, clock=clock, warn=warnings.append
    )
    usage.seen_session("s1", "192.0.2.1")
    await usage.flush()
    assert "disk full" in warnings[0] and usage.pending_sessions
    await usage.flush()
    assert calls[-1] == {"s1": (clock.now, "192.0.2.1")} and not usage.pending_sessions
    plain = UsageRecorder(lambda batch: None, clock=clock)
    plain.seen_session("s1", "192.0.2.1")
    assert plain.pending_sessions == {}
