"""The mechanisms behind security round three, in-process against the fake opencode:
open connections decided again (live.py), the decision reading the forwarded
headers, the sandbox headers by policy row, and forward-auth's WebSocket routes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.policy import default_policy
from core.gateway.guard import Credentials
from core.gateway.headers import API, APP, FILE_BYTES, ContentSafety, add_safety
from core.gateway.live import OpenConnections
from core.gateway.tickets import Tickets
from core.model.errors import StoreCorrupt
from core.store import StoreReader, TokenStore
from core.store.snapshot import Issued
from tests.gateway.conftest import Harness, Tokens, gateway_harness
from tests.gateway.test_forward_auth import forward_auth, nginx

# --- live: open connections decided again -------------------------------------------


async def test_a_revoked_tokens_event_stream_ends_and_is_logged(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(f"{h.url}/event", headers=h.bearer("rwx")) as events:
            assert events.status == 200
            first = await asyncio.wait_for(events.content.readuntil(b"\n\n"), 5)
            assert b"server.connected" in first
            assert len(h.gateway.live) == 1
            tokens.store.delete([tokens.ids["rwx"]])
            rest = await asyncio.wait_for(events.content.read(), 2)  # ends: not the 2nd event
            assert b"second" not in rest
        await asyncio.sleep(0.1)
        assert len(h.gateway.live) == 0
        assert any('"revoked"' in line and '"/event"' in line for line in h.access.lines)


async def test_a_revoked_tokens_websocket_closes_with_1008(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        ws = await h.client.ws_connect(f"{h.url}/pty/pty_1/connect", headers=h.bearer("rwx"))
        greeting = await asyncio.wait_for(ws.receive(), 5)
        assert greeting.type is aiohttp.WSMsgType.BINARY  # the fake's cursor frame
        tokens.store.edit(tokens.ids["rwx"], permissions="read,write")
        closing = await asyncio.wait_for(ws.receive(), 2)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1008
        assert "insufficient_scope" in str(closing.extra)
        await ws.close()


async def test_an_unrelated_change_keeps_connections_open(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        ws = await h.client.ws_connect(f"{h.url}/pty/pty_1/connect", headers=h.bearer("rwx"))
        await asyncio.wait_for(ws.receive(), 5)
        rounds = h.gateway.live.rechecks
        tokens.store.delete([tokens.ids["r"]])
        await asyncio.sleep(0.6)
        assert h.gateway.live.rechecks > rounds  # decided again, and it still passes
        await ws.send_str("still here")
        echoed = await asyncio.wait_for(ws.receive(), 5)
        assert echoed.type is aiohttp.WSMsgType.TEXT and echoed.data == "echo:still here"
        await ws.close()


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_nothing_is_decided_again_while_nothing_changes(tokens: Tokens) -> None:
    clock = _Clock()
    live = OpenConnections(CachedAuthorizer(StoreReader(tokens.path), clock=clock), interval=0.01)
    calls: list[str] = []

    async def recheck() -> str | None:
        calls.append("recheck")
        return None

    async def end(why: str) -> None:
        calls.append(why)

    live.hold(tokens.ids["rwx"], recheck, end)
    live.start()
    try:
        await asyncio.sleep(0.2)
        # decided once more when first seen (the store may have changed since its
        # request was decided), then not again while nothing changes
        assert calls == ["recheck"]
        clock.now += timedelta(days=40)  # past the 30-day expiry of the test tokens
        await asyncio.sleep(0.1)
        assert calls[:2] == ["recheck", "recheck"]
    finally:
        await live.close()


async def test_a_browser_sessions_end_decides_its_connections_again(tokens: Tokens) -> None:
    """A session ends after 30 days at most, sooner than a token that never
    expires: its open streams are decided again when it does, not only at the
    next change of the store."""
    token = tokens.store.create(name="lasting", expires="never").record
    session = tokens.store.create_session(token.id, client=None, user_agent=None).record
    clock = _Clock()
    live = OpenConnections(CachedAuthorizer(StoreReader(tokens.path), clock=clock), interval=0.01)
    calls: list[str] = []

    async def recheck() -> str | None:
        calls.append("recheck")
        return "unknown_session" if clock.now >= session.expires_at else None

    async def end(why: str) -> None:
        calls.append(why)

    live.hold(token.id, recheck, end, session.id)
    live.start()
    try:
        await asyncio.sleep(0.2)
        assert calls == ["recheck"]  # once when first seen, then nothing changes
        clock.now = session.expires_at + timedelta(seconds=1)
        await asyncio.sleep(0.2)
        assert calls == ["recheck", "recheck", "unknown_session"]
        assert len(live) == 0
    finally:
        await live.close()


async def test_a_recheck_that_fails_ends_the_connection(tokens: Tokens) -> None:
    live = OpenConnections(CachedAuthorizer(StoreReader(tokens.path)))
    ended: list[str] = []

    async def broken() -> str | None:
        raise RuntimeError("boom")

    async def fine() -> str | None:
        return None

    async def end(why: str) -> None:
        ended.append(why)

    doomed = live.hold("a", broken, end)
    kept = live.hold("b", fine, end)
    await live.recheck_all()
    assert ended == ["it could not be decided again"]
    assert doomed.ended and kept.ended is None
    assert live.tokens() == {"b"}


def test_the_store_version_and_an_expiry_are_read_from_the_held_version(tokens: Tokens) -> None:
    authorizer = CachedAuthorizer(StoreReader(tokens.path))
    authorizer.index()
    first = authorizer.version()
    assert authorizer.expiry(tokens.ids["r"]) is not None
    assert authorizer.expiry("nobody") is None
    tokens.store.create(name="another")
    authorizer.index()
    assert authorizer.version() != first
    tokens.path.write_text("{")
    with pytest.raises(StoreCorrupt):
        authorizer.index()
    with pytest.raises(StoreCorrupt):
        authorizer.version()


def test_tickets_of_tokens_that_no_longer_pass_are_forgotten(tokens: Tokens) -> None:
    authorizer = CachedAuthorizer(StoreReader(tokens.path))
    authorizer.index()
    tickets = Tickets()
    wx = Credentials(f"Bearer {tokens.secrets['wx']}")
    assert tickets.remember(b'{"ticket":"t1"}', Credentials(f"Bearer {tokens.secrets['rwx']}"))
    assert tickets.remember(b'{"ticket":"t2"}', wx)
    tokens.store.delete([tokens.ids["rwx"]])
    authorizer.index()
    forgotten = tickets.forget_unless(
        lambda asked: authorizer.still_valid(asked.authorization, cookie=asked.cookie)
    )
    assert forgotten == 1
    assert tickets.redeem("t1") is None
    assert tickets.redeem("t2") == wx


# --- the decision reads what is forwarded ---------------------------------------------


@contextlib.asynccontextmanager
async def limited_elsewhere(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Harness, Issued]]:
    """A gateway serving opencode's own directory and /srv/elsewhere, and a read
    token limited to /srv/elsewhere."""
    from core.gateway.settings import ScopeSettings
    from tests.gateway.conftest import make_tokens
    from tests.gateway.fake_upstream import FAKE_DIRECTORY

    tokens = make_tokens(tmp_path_factory.mktemp("store") / "auth-tokens.json")
    limited = tokens.store.create(
        name="elsewhere", permissions="read", directories=["/srv/elsewhere"]
    )
    scope = ScopeSettings((FAKE_DIRECTORY, "/srv/elsewhere"), False)
    async with gateway_harness(tokens, scope=scope) as h:
        yield h, limited


@pytest.mark.parametrize("connection", ["close, x-opencode-directory", "X-OPENCODE-DIRECTORY"])
async def test_a_header_the_connection_list_drops_is_not_decided_on(
    tmp_path_factory: pytest.TempPathFactory, connection: str
) -> None:
    async with limited_elsewhere(tmp_path_factory) as (h, limited):
        bearer = {"Authorization": f"Bearer {limited.secret.reveal()}"}
        headers = {**bearer, "x-opencode-directory": "/srv/elsewhere", "Connection": connection}
        async with h.client.get(f"{h.url}/file?path=.", headers=headers) as resp:
            assert resp.status == 403  # decided on opencode's own directory, not the token's
            assert (await resp.json())["error"] == "directory_not_allowed"
        assert not [seen for seen in h.upstream.seen if seen.raw_path.startswith("/file")]
        # without the trick the header is decided on and reaches opencode
        headers = {**bearer, "x-opencode-directory": "/srv/elsewhere"}
        async with h.client.get(f"{h.url}/file?path=.", headers=headers) as resp:
            assert resp.status == 200
        assert h.upstream.last().headers["x-opencode-directory"] == ["/srv/elsewhere"]


async def _raw_exchange(url: str, head: bytes) -> bytes:
    from urllib.parse import urlsplit

    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    writer.write(head)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "header",
    [
        b"X-Opencode-Directory: /srv/elsewhere/\xff../\xff../fake-project",
        b"X-Anything: a\xffb",
        b"X-Opencode-Directory: /srv/elsewhere/\xc3\xa9",  # UTF-8, but not ASCII
    ],
)
async def test_header_bytes_beyond_ascii_are_refused_before_anything_is_forwarded(
    tmp_path_factory: pytest.TempPathFactory, header: bytes
) -> None:
    """aiohttp reads a byte that is not UTF-8 as a lone surrogate, and its writer
    leaves that character out: `/srv/elsewhere/\\xff..` was decided as a folder
    inside /srv/elsewhere and reached opencode as `/srv/elsewhere/..`. Any header
    that is not UTF-8 is refused, and the directory header must be ASCII."""
    async with limited_elsewhere(tmp_path_factory) as (h, limited):
        head = (
            b"GET /file/content?path=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer "
            + limited.secret.reveal().encode()
            + b"\r\n"
            + header
            + b"\r\n\r\n"
        )
        answer = await _raw_exchange(h.url, head)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert not [seen for seen in h.upstream.seen if seen.raw_path.startswith("/file")]
        # percent-encoded, as clients send it: decided, and forwarded as it came
        encoded = {
            "Authorization": f"Bearer {limited.secret.reveal()}",
            "x-opencode-directory": "/srv/elsewhere/%C3%A9",
        }
        async with h.client.get(f"{h.url}/file/content?path=x", headers=encoded) as resp:
            assert resp.status == 200
        assert h.upstream.last().headers["x-opencode-directory"] == ["/srv/elsewhere/%C3%A9"]


@pytest.mark.parametrize(
    "query",
    ["directory=&directory=/srv/elsewhere", "directory=/srv/elsewhere&directory="],
)
async def test_an_empty_repeat_of_the_directory_parameter_is_refused(
    tmp_path_factory: pytest.TempPathFactory, query: str
) -> None:
    """opencode reads the first `directory` (`searchParams.get`), and an empty one
    means its own directory: checking only the non-empty one let a token limited
    to /srv/elsewhere work in opencode's directory."""
    async with limited_elsewhere(tmp_path_factory) as (h, limited):
        bearer = {"Authorization": f"Bearer {limited.secret.reveal()}"}
        async with h.client.get(f"{h.url}/file/content?path=x&{query}", headers=bearer) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == "bad_directory"
        assert not [seen for seen in h.upstream.seen if seen.raw_path.startswith("/file")]
        # one directory, or two empty ones (opencode's own: refused for this token)
        async with h.client.get(
            f"{h.url}/file/content?path=x&directory=/srv/elsewhere", headers=bearer
        ) as resp:
            assert resp.status == 200
        async with h.client.get(
            f"{h.url}/file/content?path=x&directory=&directory=", headers=bearer
        ) as resp:
            assert resp.status == 403


# --- what an answer carries ------------------------------------------------------------


def test_the_sandbox_headers_follow_the_policy_rows() -> None:
    safety = ContentSafety(default_policy())
    assert safety.headers("GET /file/content") == API
    assert safety.headers("GET /api/fs/read/*") == FILE_BYTES
    assert safety.headers("GET /session") == API
    assert safety.headers("GET /") == APP  # the web app's own page
    assert safety.headers("GET /assets/{file}") == APP
    assert safety.headers("unclassified") == APP  # opencode's index.html
    for rule in default_policy():
        assert safety.headers(rule.name) in (API, FILE_BYTES, APP)


def test_a_content_security_policy_is_added_next_to_opencodes_own() -> None:
    from multidict import CIMultiDict

    headers: CIMultiDict[str] = CIMultiDict(
        {"Content-Security-Policy": "default-src 'self'", "Content-Disposition": "x"}
    )
    add_safety(headers, API)
    assert headers.getall("Content-Security-Policy")[0] == "default-src 'self'"
    assert len(headers.getall("Content-Security-Policy")) == 2
    assert headers.getall("Content-Disposition") == ["inline"]


async def test_api_answers_carry_the_sandbox_and_web_app_files_do_not(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(f"{h.url}/api/fs/read/x.html", headers=h.bearer("r")) as r:
            assert r.headers["Content-Security-Policy"].startswith("sandbox")
            assert r.headers["Content-Disposition"] == "attachment"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as r:
            assert r.headers["Content-Security-Policy"].startswith("sandbox")
            assert r.headers["Content-Disposition"] == "inline"
        async with h.client.get(f"{h.url}/assets/app.js", headers=h.bearer("r")) as r:
            assert r.headers["Content-Security-Policy"] == "frame-ancestors 'self'"


# --- forward-auth: WebSocket routes are handshakes -------------------------------------


async def test_forward_auth_treats_a_terminal_route_as_a_handshake_without_upgrade(
    tokens: Tokens,
) -> None:
    """nginx's subrequest carries no Upgrade: the route alone makes it a handshake,
    so a page of another origin is refused and the subprotocol token is read."""
    async with forward_auth(tokens) as (url, client):
        basic = "Basic " + base64.b64encode(f"anyone:{tokens.secrets['rwx']}".encode()).decode()
        cross = nginx(
            "GET",
            "/pty/pty_1/connect",
            **{
                "X-Original-Host": "gw.example",
                "Origin": "http://gw.example:8080",
                "Authorization": basic,
            },
        )
        async with client.get(url, headers=cross) as resp:
            assert resp.status == 403
            assert json.loads(resp.headers["X-Auth-Error"])["error"] == "cross_site"
        same = {**cross, "Origin": "http://gw.example"}
        async with client.get(url, headers=same) as resp:
            assert resp.status == 200
        offered = nginx(
            "GET",
            "/PTY/pty_1/connect?cursor=0",
            **{"Sec-WebSocket-Protocol": f"bearer, {tokens.secrets['rwx']}"},
        )
        async with client.get(url, headers=offered) as resp:
            assert resp.status == 200
            assert resp.headers["X-Auth-Token-Id"] == tokens.ids["rwx"]
        # ... only where the proxy configs take it out again: first in the list
        later = nginx(
            "GET",
            "/pty/pty_1/connect",
            **{"Sec-WebSocket-Protocol": f"chat, bearer, {tokens.secrets['rwx']}"},
        )
        async with client.get(url, headers=later) as resp:
            assert resp.status == 401
        # a plain route still ignores the subprotocol, as the gateway does
        plain = nginx(
            "GET", "/vcs", **{"Sec-WebSocket-Protocol": offered["Sec-WebSocket-Protocol"]}
        )
        async with client.get(url, headers=plain) as resp:
            assert resp.status == 401


async def test_forward_auth_hands_the_proxy_the_sandbox_headers(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        async with client.get(
            url, headers={**nginx("GET", "/api/fs/read/a.svg"), **tokens.bearer("r")}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["X-Auth-Content-Security-Policy"].startswith("sandbox")
            assert resp.headers["X-Auth-Content-Type-Options"] == "nosniff"
            assert resp.headers["X-Auth-Content-Disposition"] == "attachment"
        async with client.get(url, headers=nginx("GET", "/global/health")) as resp:
            assert resp.status == 200  # public: no token, the same headers
            assert resp.headers["X-Auth-Content-Disposition"] == "inline"
        async with client.get(url, headers={**nginx("GET", "/"), **tokens.bearer("rwx")}) as resp:
            assert resp.headers["X-Auth-Content-Security-Policy"] == "frame-ancestors 'self'"


def test_a_store_written_by_hand_stays_readable_for_expiry(tokens: Tokens) -> None:
    store = TokenStore(tokens.path)
    issued = store.create(name="soon", expires=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    authorizer = CachedAuthorizer(StoreReader(tokens.path))
    authorizer.index()
    expires = authorizer.expiry(issued.record.id)
    assert expires is not None and expires > datetime.now(UTC)
