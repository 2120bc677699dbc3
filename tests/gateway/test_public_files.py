"""The three files opencode serves without its password pass the gateway without
credentials, and nothing else does (core/gateway/public.py).

A browser fetches a page's manifest without credentials; opencode 1.18.33 serves
`/site.webmanifest` and its two icons to anyone, so the gateway no longer answers
401 first. What is proved here: exactly those targets pass, bare; no header that
could steer opencode (a directory, a workspace, a cookie, credentials) goes with
them, nor the gateway's own password; the connection is closed after the answer
(no slot kept alive without a token); every other target without credentials is
refused as before and never reaches opencode; and an opencode that stops serving
them without a password gets the usual refusal, not its 401 turned into a 502.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from yarl import URL

from tests.gateway.conftest import Tokens, gateway_harness
from tests.gateway.real_servers import Opencode, RunningGateway, request

PUBLIC = ("/site.webmanifest", "/web-app-manifest-192x192.png", "/web-app-manifest-512x512.png")
STEERING = {
    "X-Opencode-Directory": "/etc",
    "X-Opencode-Workspace": "ws_1",
    "Cookie": "opencode_session=abc; other=1",
    "X-Forwarded-For": "10.9.9.9",
}


@pytest.mark.parametrize("path", PUBLIC)
async def test_a_public_file_passes_bare_and_closes_the_connection(
    tokens: Tokens, path: str
) -> None:
    async with gateway_harness(tokens) as h:
        before = len(h.upstream.seen)
        async with h.client.get(
            f"{h.url}{path}", headers={**STEERING, "Accept": "application/json"}
        ) as resp:
            assert resp.status == 200
            echoed = await resp.json()
            assert resp.headers["Connection"].lower() == "close"
            assert resp.headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
        seen = h.upstream.seen[before:]
        assert [(s.method, s.raw_path) for s in seen] == [("GET", path)]
        reached = seen[0].headers
        for name in ("authorization", "cookie", "x-opencode-directory", "x-opencode-workspace"):
            assert name not in reached, name
        assert reached["accept"] == ["application/json"]
        assert reached["x-forwarded-for"] == ["127.0.0.1"]  # the gateway's, not the client's
        assert echoed["raw_path"] == path
        await asyncio.sleep(0.1)  # the access line is written once the answer is out
        line = json.loads(h.access.lines[-1])
        assert (line["status"], line["reason"], line["token_id"]) == (200, "public", None)


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/site.webmanifest?directory=/etc"),
        ("GET", "/%73ite.webmanifest"),
        ("GET", "//site.webmanifest"),
        ("GET", "/site.webmanifest/"),
        ("GET", "/Site.webmanifest"),
        ("GET", "/favicon.ico"),
        ("GET", "/"),
        ("GET", "/session"),
        ("HEAD", "/site.webmanifest"),
        ("POST", "/site.webmanifest"),
        ("DELETE", "/web-app-manifest-192x192.png"),
    ],
)
async def test_anything_else_without_credentials_is_refused_and_never_reaches_opencode(
    tokens: Tokens, method: str, target: str
) -> None:
    async with gateway_harness(tokens) as h:
        before = len(h.upstream.seen)
        async with h.client.request(
            method, URL(f"{h.url}{target}", encoded=True), data=None
        ) as resp:
            assert resp.status in (400, 401, 404), (target, resp.status)
        assert h.upstream.seen[before:] == []


async def test_a_public_file_with_a_body_is_decided_as_any_request(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        before = len(h.upstream.seen)
        async with h.client.get(f"{h.url}/site.webmanifest", data=b"x" * 10) as resp:
            assert resp.status == 401
        assert h.upstream.seen[before:] == []


async def test_an_opencode_that_wants_its_password_gets_the_usual_refusal(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        h.upstream.public_files = frozenset()
        async with h.client.get(f"{h.url}/site.webmanifest") as resp:
            assert resp.status == 401  # the gateway's own refusal, not a 502
            assert "Basic" in resp.headers.getall("WWW-Authenticate", [""])[0]
        # and the full token still gets it, with the gateway's credentials
        async with h.client.get(f"{h.url}/site.webmanifest", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        assert "authorization" in h.upstream.seen[-1].headers


@pytest.mark.opencode
def test_the_real_opencode_manifest_passes_without_credentials(
    opencode: Opencode, opencode_gateway: RunningGateway, real_tokens: Tokens
) -> None:
    direct = request(opencode.url, "GET", "/site.webmanifest", {}, timeout=20)
    assert direct[0] == 200  # opencode itself serves it to anyone
    through = request(opencode_gateway.url, "GET", "/site.webmanifest", {}, timeout=20)
    assert through[0] == 200
    assert through[2] == direct[2]
    assert through[1]["connection"].lower() == "close"
    # its neighbours still need a token (opencode's catch-all would serve them too)
    assert request(opencode_gateway.url, "GET", "/favicon.ico", {}, timeout=20)[0] == 401
    assert request(opencode_gateway.url, "GET", "/site.webmanifest?x=1", {}, timeout=20)[0] == 401
    # the full token still reads it
    status, _, body = request(
        opencode_gateway.url, "GET", "/site.webmanifest", real_tokens.bearer("rwx"), timeout=20
    )
    assert (status, body) == (200, direct[2])
