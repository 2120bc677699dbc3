"""forward-auth answers the proxy's question with the same decision as the gateway."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from core.gateway.server import Listener
from core.gateway.settings import ListenAddress
from tests.gateway.conftest import (
    ListLog,
    Tokens,
    bad_checksum,
    collecting_logger,
    decision_only_forward_auth,
)


@contextlib.asynccontextmanager
async def forward_auth(
    tokens: Tokens, log: ListLog | None = None
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    warnings: list[str] = []
    logger = log if log is not None else collecting_logger()[0]
    listener = Listener(
        decision_only_forward_auth(tokens, warnings.append),
        ListenAddress("127.0.0.1", 0),
        access_log=logger,
    )
    await listener.start()
    try:
        async with aiohttp.ClientSession() as client:
            yield listener.url + "/auth", client
    finally:
        await listener.stop()


def nginx(method: str, uri: str, **extra: str) -> dict[str, str]:
    return {"X-Original-Method": method, "X-Original-URI": uri, **extra}


def caddy(method: str, uri: str, **extra: str) -> dict[str, str]:
    return {"X-Forwarded-Method": method, "X-Forwarded-Uri": uri, **extra}


@pytest.mark.parametrize("style", [nginx, caddy])
async def test_the_decision_matrix(tokens: Tokens, style) -> None:  # type: ignore[no-untyped-def]
    cases = [
        ("GET", "/vcs", "r", 200),
        ("GET", "/session", "r", 403),
        ("GET", "/session?limit=1", "rx", 200),
        ("POST", "/session", "rx", 403),
        ("POST", "/session", "wx", 200),
        ("GET", "/global/health", None, 200),
        ("GET", "/vcs", None, 401),
        ("GET", "/vcs", "expired", 401),
        ("TRACE", "/vcs", "rwx", 403),
        ("GET", "/global/../pty", "r", 403),
    ]
    async with forward_auth(tokens) as (url, client):
        for method, uri, token, status in cases:
            headers = style(method, uri)
            if token:
                headers.update(tokens.bearer(token))
            async with client.get(url, headers=headers) as resp:
                assert resp.status == status, (method, uri, token)
                if status == 200 and token:
                    assert resp.headers["X-Auth-Token-Id"] == tokens.ids[token]
                if status == 401:
                    challenges = resp.headers.getall("WWW-Authenticate")
                    assert challenges[0] == 'Basic realm="opencode"'  # browsers prompt
                    assert challenges[1].startswith('Bearer realm="opencode"')
                if status == 403 and method != "TRACE":
                    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


async def test_bodies_and_challenges(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        forged = {"Authorization": "Bearer " + bad_checksum(tokens.secrets["r"])}
        async with client.get(url, headers={**nginx("GET", "/session"), **forged}) as resp:
            assert resp.status == 401
            assert resp.headers.getall("WWW-Authenticate") == [
                'Basic realm="opencode"',
                'Bearer realm="opencode", error="invalid_token"',
            ]
            assert await resp.json() == {
                "error": "bad_checksum",
                "required": ["read", "execute"],
                "granted": [],
                "message": "the token's checksum does not match: it was mistyped or cut short",
            }


async def test_spoofed_or_missing_original_request_is_refused(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        # nginx sets X-Original-*; a client adds X-Forwarded-* pretending to be a GET
        spoof = {
            **nginx("POST", "/session"),
            **caddy("GET", "/vcs"),
            **tokens.bearer("r"),
        }
        async with client.get(url, headers=spoof) as resp:
            assert resp.status == 400
            assert "disagree" in (await resp.json())["message"]
        async with client.get(
            url, headers={"X-Original-URI": "/vcs", **tokens.bearer("r")}
        ) as resp:
            assert resp.status == 400
            assert "method is missing" in (await resp.json())["message"]


async def test_websocket_subprotocol_token(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        headers = {
            **nginx("GET", "/pty/pty_1/connect"),
            "Upgrade": "websocket",
            "Sec-WebSocket-Protocol": f"bearer, {tokens.secrets['rwx']}",
        }
        async with client.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["X-Auth-Token-Id"] == tokens.ids["rwx"]


async def test_the_subprotocol_token_counts_only_on_a_websocket_upgrade(tokens: Tokens) -> None:
    """On a plain GET the header is no credential: opencode ignores it, and so must
    anything deciding whether the request may pass."""
    async with forward_auth(tokens) as (url, client):
        plain = {
            **nginx("GET", "/vcs"),
            "Sec-WebSocket-Protocol": f"bearer, {tokens.secrets['rwx']}",
        }
        async with client.get(url, headers=plain) as resp:
            assert resp.status == 401
        upgrade_post = {**plain, **nginx("POST", "/log"), "Upgrade": "websocket"}
        async with client.get(url, headers=upgrade_post) as resp:
            assert resp.status == 401


async def test_basic_credentials_with_the_token_as_password(tokens: Tokens) -> None:
    import base64

    async with forward_auth(tokens) as (url, client):
        for user in ("opencode", "anyone", ""):
            basic = base64.b64encode(f"{user}:{tokens.secrets['r']}".encode()).decode()
            headers = {**nginx("GET", "/vcs"), "Authorization": f"Basic {basic}"}
            async with client.get(url, headers=headers) as resp:
                assert resp.status == 200, user
                assert resp.headers["X-Auth-Token-Id"] == tokens.ids["r"]
        wrong = base64.b64encode(b"opencode:not-a-token").decode()
        headers = {**nginx("GET", "/vcs"), "Authorization": f"Basic {wrong}"}
        async with client.get(url, headers=headers) as resp:
            assert resp.status == 401


async def test_a_token_in_the_url_cannot_pass_a_proxy(tokens: Tokens) -> None:
    import base64

    async with forward_auth(tokens) as (url, client):
        value = base64.b64encode(f"opencode:{tokens.secrets['r']}".encode()).decode()
        headers = {**nginx("GET", f"/vcs?auth_token={value}"), **tokens.bearer("r")}
        async with client.get(url, headers=headers) as resp:
            assert resp.status == 401  # nginx passes 401 on (400 would become 500)
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="opencode"'
            assert "auth_token" in (await resp.json())["message"]


async def test_the_access_log_names_the_original_request(tokens: Tokens) -> None:
    import base64

    log = ListLog()
    async with forward_auth(tokens, log) as (url, client):
        async with client.get(url, headers={**nginx("POST", "/pty"), **tokens.bearer("r")}) as resp:
            assert resp.status == 403
        value = base64.b64encode(f"opencode:{tokens.secrets['r']}".encode()).decode()
        headers = {**caddy("PUT", f"/vcs?auth_token={value}"), **tokens.bearer("r")}
        async with client.get(url, headers=headers) as resp:
            assert resp.status == 401
    refused, in_url = (json.loads(line) for line in log.lines)
    # the method and path of the request nginx asked about, not of its GET /auth
    assert (refused["method"], refused["path"], refused["rule"]) == ("POST", "/pty", "POST /pty")
    assert (in_url["method"], in_url["path"]) == ("PUT", "/vcs")
    assert in_url["reason"] == "url_credentials"
    assert value not in "".join(log.lines)


async def test_non_utf8_bytes_in_the_original_uri_are_answered_and_logged(
    tokens: Tokens,
) -> None:
    """A header's bytes reach aiohttp as they are (the request line's are refused
    there): a long X-Original-URI with an invalid byte once made a 500."""
    import asyncio
    from urllib.parse import urlsplit

    log = ListLog()
    async with forward_auth(tokens, log) as (url, _):
        where = urlsplit(url)
        statuses = []
        bearer = f"Authorization: Bearer {tokens.secrets['r']}\r\n".encode()
        for uri, header in ((b"/x\xff" + b"a" * 300, b""), (b"/vcs\xff", b""), (b"/x\xff", bearer)):
            reader, writer = await asyncio.open_connection(where.hostname, where.port)
            writer.write(
                b"GET /auth HTTP/1.1\r\nHost: x\r\nX-Original-Method: GET\r\nX-Original-URI: "
                + uri
                + b"\r\n"
                + header
                + b"Connection: close\r\n\r\n"
            )
            await writer.drain()
            statuses.append((await reader.read()).split(b"\r\n", 1)[0])
            writer.close()
    assert statuses[:2] == [b"HTTP/1.1 401 Unauthorized"] * 2
    assert statuses[2] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 403 Forbidden")
    paths = [json.loads(line)["path"] for line in log.lines]
    assert len(paths) == 3 and all("%EF%BF%BD" in path and path.isascii() for path in paths)


async def test_a_corrupt_store_is_503(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        tokens.path.write_text("[1, 2")
        async with client.get(url, headers={**nginx("GET", "/vcs"), **tokens.bearer("r")}) as resp:
            assert resp.status == 503
