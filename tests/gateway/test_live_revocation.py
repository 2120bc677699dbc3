"""Revocation reaches open connections, against the real opencode 1.18.33.

An event stream (`GET /event`) and a terminal (a PTY WebSocket) opened through
the gateway with a token are closed within a second of the token being deleted,
expiring, losing `execute` or being narrowed to other directories: the stream
ends and the WebSocket closes with 1008 and the reason. The terminal then takes
no more keystrokes, and the token opens nothing new. Connections of other
tokens stay open, and so do a token's own when the store changes in a way that
does not concern it. (forward-auth cannot close a proxy's connections; the
README and `forward-auth --help` say so.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from core.store import TokenStore
from tests.gateway import processes
from tests.gateway.live_connections import Watch, close_quietly, open_both, read_output
from tests.gateway.real_servers import Opencode

pytestmark = pytest.mark.opencode

LIMIT = 1.0
"""SPEC: those that no longer pass are closed within 1 s."""
POLICY_VIOLATION = 1008


@dataclass
class Live:
    store: TokenStore
    url: str
    child: processes.Child
    opencode: Opencode

    def token(self, **options: object) -> tuple[str, str]:
        issued = self.store.create(**options)  # type: ignore[arg-type]
        return issued.record.id, issued.secret.reveal()


@pytest.fixture(scope="module")
def live(opencode: Opencode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    path = tmp_path_factory.mktemp("live") / "auth-tokens.json"
    store = TokenStore(path)
    child = processes.gateway(path, opencode.url, password=opencode.password)
    try:
        url = child.listening_url()
        child.wait_for("serving the directories")
        yield Live(store, url, child, opencode)
    finally:
        child.stop()


async def refused(live: Live, secret: str, path: str = "/path") -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.get(live.url + path, headers={"Authorization": f"Bearer {secret}"}) as r,
    ):
        return r.status


async def test_deleting_a_token_closes_its_stream_and_terminal_and_no_others(live: Live) -> None:
    doomed_id, doomed = live.token(name="doomed", permissions="read,write,execute")
    _, other = live.token(name="bystander", permissions="read,write,execute")
    marker = live.opencode.home / "typed-after-revocation"
    async with aiohttp.ClientSession() as s:
        mine = await open_both(s, live.url, doomed)
        theirs = await open_both(s, live.url, other)
        watch, bystander = Watch(mine).start(), Watch(theirs).start()
        live.store.delete([doomed_id])
        stream, socket = await watch.both(LIMIT)
        assert watch.close_code == POLICY_VIOLATION
        assert "unknown_token" in watch.close_reason
        # the terminal takes no more keystrokes
        with pytest.raises((ConnectionError, RuntimeError)):
            await mine.ws.send_str(f"touch {marker}\n")
        # and the token opens nothing new: not the same terminal, not a stream
        with pytest.raises(aiohttp.WSServerHandshakeError) as again:
            await s.ws_connect(
                f"{live.url}/pty/{mine.pty}/connect", headers={"Authorization": f"Bearer {doomed}"}
            )
        assert again.value.status == 401
        assert await refused(live, doomed, "/event") == 401
        # the other token's stream and terminal were left alone
        assert await bystander.still_open(0.5)
        await bystander.stop()
        await theirs.ws.send_str("echo still-$((6*7))\n")
        await read_output(theirs.ws, "still-42")
        await close_quietly(theirs)
    await asyncio.sleep(0.5)
    assert not marker.exists()
    lines = live.child.lines_once(lambda ls: any('"revoked"' in x for x in ls))
    revoked = [json.loads(x) for x in lines if '"revoked"' in x]
    assert {x["path"] for x in revoked} >= {"/event", f"/pty/{mine.pty}/connect"}
    assert all(x["token_id"] == doomed_id for x in revoked)
    print(f"delete -> stream ended {stream * 1000:.0f} ms, terminal closed {socket * 1000:.0f} ms")


async def test_an_expiry_closes_them_when_it_passes(live: Live) -> None:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    _, secret = live.token(name="short-lived", expires=expires.isoformat())
    async with aiohttp.ClientSession() as s:
        opened = await open_both(s, live.url, secret)
        watch = Watch(opened)
        await asyncio.sleep((expires - datetime.now(UTC)).total_seconds())
        watch.start()  # timed from the expiry
        await watch.both(LIMIT)
        assert watch.close_code == POLICY_VIOLATION
        assert "expired" in watch.close_reason
    assert await refused(live, secret) == 401


@pytest.mark.parametrize("change", ["permissions", "directories"])
async def test_an_edit_that_takes_away_what_they_need_closes_them(live: Live, change: str) -> None:
    token_id, secret = live.token(name=f"edited-{change}", permissions="read,write,execute")
    async with aiohttp.ClientSession() as s:
        opened = await open_both(s, live.url, secret)
        watch = Watch(opened).start()
        if change == "permissions":
            live.store.edit(token_id, permissions="read,write")
            expected = "insufficient_scope"
        else:  # the stream and terminal are in opencode's directory: no longer the token's
            live.store.edit(token_id, directories=[str(live.opencode.outside)])
            expected = "directory_not_allowed"
        await watch.both(LIMIT)
        assert watch.close_code == POLICY_VIOLATION
        assert expected in watch.close_reason


async def test_a_terminal_opened_with_a_ticket_closes_with_the_token_that_asked_for_it(
    live: Live,
) -> None:
    token_id, secret = live.token(name="ticket-holder", permissions="read,write,execute")
    async with aiohttp.ClientSession() as s:
        opened = await open_both(s, live.url, secret, ticket=True)
        watch = Watch(opened).start()
        live.store.delete([token_id])
        await watch.both(LIMIT)
        assert watch.close_code == POLICY_VIOLATION


async def test_a_change_that_does_not_concern_them_leaves_them_open(live: Live) -> None:
    token_id, secret = live.token(name="steady", permissions="read,write,execute")
    async with aiohttp.ClientSession() as s:
        opened = await open_both(s, live.url, secret)
        watch = Watch(opened).start()
        live.store.create(name="newcomer")
        live.store.edit(token_id, note="a new note: nothing it needs changed")
        assert await watch.still_open(1.0)
        await watch.stop()
        await opened.ws.send_str("echo steady-$((6*7))\n")
        await read_output(opened.ws, "steady-42")
        await close_quietly(opened)


async def test_a_store_that_cannot_be_read_closes_them(live: Live, tmp_path: Path) -> None:
    _, secret = live.token(name="fail-closed", permissions="read,write,execute")
    path = live.store.path
    good = path.read_bytes()
    async with aiohttp.ClientSession() as s:
        opened = await open_both(s, live.url, secret)
        watch = Watch(opened).start()
        broken = tmp_path / "broken.json"
        broken.write_text('{"version": 2, "tokens": [')
        broken.chmod(0o600)
        broken.replace(path)  # atomically, as an editor would save it
        try:
            await watch.both(LIMIT)
            assert watch.close_code == POLICY_VIOLATION
            assert "store" in watch.close_reason
        finally:
            fixed = tmp_path / "fixed.json"
            fixed.write_bytes(good)
            fixed.chmod(0o600)
            fixed.replace(path)
    assert await refused(live, secret) == 200
