"""forward-auth answers the proxy's question with the same decision as the gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from core.authorize import CachedAuthorizer
from core.gateway.forward_auth import ForwardAuth
from core.gateway.guard import Guard
from core.gateway.server import Listener
from core.gateway.settings import ListenAddress
from tests.gateway.conftest import Tokens, bad_checksum, collecting_logger


@contextlib.asynccontextmanager
async def forward_auth(tokens: Tokens) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    warnings: list[str] = []
    logger, _ = collecting_logger()
    listener = Listener(
        ForwardAuth(Guard(CachedAuthorizer(tokens.path), warn=warnings.append)),
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
        ("GET", "/config", "r", 200),
        ("GET", "/session", "r", 403),
        ("GET", "/session?limit=1", "rx", 200),
        ("POST", "/session", "rx", 403),
        ("POST", "/session", "wx", 200),
        ("GET", "/global/health", None, 200),
        ("GET", "/config", None, 401),
        ("GET", "/config", "expired", 401),
        ("TRACE", "/config", "rwx", 403),
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
                    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="opencode"')
                if status == 403 and method != "TRACE":
                    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


async def test_bodies_and_challenges(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        forged = {"Authorization": "Bearer " + bad_checksum(tokens.secrets["r"])}
        async with client.get(url, headers={**nginx("GET", "/session"), **forged}) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == (
                'Bearer realm="opencode", error="invalid_token"'
            )
            assert await resp.json() == {
                "error": "bad_checksum",
                "required": ["read", "execute"],
                "granted": [],
            }


async def test_spoofed_or_missing_original_request_is_refused(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        # nginx sets X-Original-*; a client adds X-Forwarded-* pretending to be a GET
        spoof = {
            **nginx("POST", "/session"),
            **caddy("GET", "/config"),
            **tokens.bearer("r"),
        }
        async with client.get(url, headers=spoof) as resp:
            assert resp.status == 400
            assert "disagree" in (await resp.json())["message"]
        async with client.get(
            url, headers={"X-Original-URI": "/config", **tokens.bearer("r")}
        ) as resp:
            assert resp.status == 400
            assert "method is missing" in (await resp.json())["message"]


async def test_websocket_subprotocol_token(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        headers = {
            **nginx("GET", "/pty/pty_1/connect"),
            "Sec-WebSocket-Protocol": f"bearer, {tokens.secrets['rx']}",
        }
        async with client.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["X-Auth-Token-Id"] == tokens.ids["rx"]


async def test_a_corrupt_store_is_503(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        tokens.path.write_text("[1, 2")
        async with client.get(
            url, headers={**nginx("GET", "/config"), **tokens.bearer("r")}
        ) as resp:
            assert resp.status == 503
