"""Signing a browser in through the gateway and forward-auth (in-process, the fake
opencode): the login page, the session cookie and its flags, cookie requests decided
as their token's, ending sessions, pairing links. The real-browser version of these
is tests/clients/test_signin_browser.py."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.authz.policy import default_policy
from core.gateway.signin import COOKIE, PREFIX, SECURE_COOKIE, safe_next
from core.store import TokenStore
from tests.gateway.conftest import (
    Tokens,
    bad_checksum,
    decision_only_forward_auth,
    gateway_harness,
)

DOC = Path(__file__).resolve().parents[1] / "data" / "opencode-1.18.33-openapi.json"
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "text/html"}


def set_cookies(response: aiohttp.ClientResponse) -> list[str]:
    return response.headers.getall("Set-Cookie", [])


def cookie_of(response: aiohttp.ClientResponse, name: str = COOKIE) -> str:
    jar: SimpleCookie = SimpleCookie()
    for header in set_cookies(response):
        jar.load(header)
    return jar[name].value


async def login(h: Any, token: str, next_path: str = "/", **headers: str) -> aiohttp.ClientResponse:
    response: aiohttp.ClientResponse = await h.client.post(
        f"{h.url}/_auth/login",
        data={"token": token, "next": next_path},
        headers={"Origin": h.url, **headers},
        allow_redirects=False,
    )
    return response


# --- the prefix ------------------------------------------------------------------------


def test_opencode_routes_nothing_under_the_prefix() -> None:
    """No policy row, and no path of opencode 1.18.33's OpenAPI document, starts with
    the sign-in prefix, in any case: the gateway's pages never shadow opencode's."""
    policy = default_policy()
    assert not [r.name for r in policy if r.path.lower().startswith(PREFIX.rstrip("/"))]
    documented = json.loads(DOC.read_text())["paths"]
    assert not [p for p in documented if p.lower().startswith(PREFIX.rstrip("/"))]
    for path in ("/_auth/login", "/_auth/pair", "/_AUTH/logout"):
        for method in ("GET", "POST"):
            classified = policy.classify(method, path)
            assert classified.rule is None or classified.rule.directory.value == "webapp", path


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/session/abc?x=1", "/session/abc?x=1"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/_auth/login", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
        (None, "/"),
    ],
)
def test_the_page_after_signing_in_is_always_on_this_origin(given: str | None, kept: str) -> None:
    assert safe_next(given) == kept


# --- the login page and the cookie -----------------------------------------------------


async def test_a_browser_without_a_session_is_sent_to_the_login_page_and_a_program_gets_401(
    tokens: Tokens,
) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(
            f"{h.url}/session?x=1", headers=NAVIGATE, allow_redirects=False
        ) as page:
            assert page.status == 303
            assert page.headers["Location"] == "/_auth/login?next=%2Fsession%3Fx%3D1"
        # a refused `auth_token` is not sent round again: it would win over the
        # session's cookie after the sign-in and lead back here
        async with h.client.get(
            f"{h.url}/session?auth_token=ocat_nope&x=1", headers=NAVIGATE, allow_redirects=False
        ) as page:
            assert page.status == 303
            assert page.headers["Location"] == "/_auth/login?next=%2Fsession%3Fx%3D1"
        async with h.client.get(f"{h.url}/session") as api:
            assert api.status == 401
            challenges = api.headers.getall("WWW-Authenticate")
            assert challenges[0].startswith("Basic") and challenges[1].startswith("Bearer")
        async with h.client.get(f"{h.url}/_auth/login?next=/session") as form:
            assert form.status == 200
            html = await form.text()
            policy = form.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "form-action 'self'" in policy
            assert "script" not in policy and "<script" not in html
            assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
            assert 'name="next" value="/session"' in html


async def test_a_token_signs_in_and_the_cookie_holds_a_session_not_the_token(
    tokens: Tokens,
) -> None:
    async with gateway_harness(tokens) as h:
        token = tokens.secrets["r"]
        async with await login(h, token, "/file?path=.") as signed:
            assert signed.status == 303
            assert signed.headers["Location"] == "/file?path=."
            [header] = set_cookies(signed)
            value = cookie_of(signed)
        assert token not in header and value.startswith("ocsess_")
        flags = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
        assert {"path", "max-age", "httponly", "samesite"} <= flags
        assert "samesite=strict" in header.lower() and "secure" not in flags  # plain HTTP
        [session] = TokenStore(tokens.path).sessions()
        assert session.token_id == tokens.ids["r"] and session.via == "login"
        assert session.client == "127.0.0.1" and session.user_agent
        assert value not in tokens.path.read_text()  # only its digest is stored
        # the cookie is decided as the token's own request: read yes, execute no
        cookie = {"Cookie": f"{COOKIE}={value}"}
        async with h.client.get(f"{h.url}/file?path=.", headers=cookie) as read:
            assert read.status == 200
        async with h.client.get(f"{h.url}/session", headers=cookie) as session_list:
            assert session_list.status == 403
        # and opencode never sees the cookie
        assert all(COOKIE not in "".join(s.headers.get("cookie", [])) for s in h.upstream.seen)


async def test_a_wrong_token_is_refused_on_the_page_and_never_echoed(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        # (a typo in the last character: `bad_checksum` never leaves it as it was - a
        # plain `+ "x"` gave the valid token back to one secret in 62, as CI once found)
        typo = bad_checksum(tokens.secrets["r"])
        for bad in (tokens.secrets["expired"], "ocat_not_a_token", typo):
            async with await login(h, bad) as refused:
                assert refused.status == 401
                assert set_cookies(refused) == []
                assert bad not in await refused.text()
        assert TokenStore(tokens.path).sessions() == ()


async def test_a_login_form_posted_from_another_origin_is_refused(tokens: Tokens) -> None:
    async with (
        gateway_harness(tokens) as h,
        await login(h, tokens.secrets["rwx"], Origin="http://evil.example") as refused,
    ):
        assert refused.status == 403 and set_cookies(refused) == []


async def test_a_state_changing_request_with_the_cookie_from_a_sibling_origin_is_refused(
    tokens: Tokens,
) -> None:
    """SameSite=Strict still sends the cookie from the same host on another port (the
    same site): the cross-site check refuses such a request."""
    async with gateway_harness(tokens) as h:
        async with await login(h, tokens.secrets["rwx"]) as signed:
            cookie = {"Cookie": f"{COOKIE}={cookie_of(signed)}"}
        sibling = {**cookie, "Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}
        async with h.client.post(f"{h.url}/session", headers=sibling) as refused:
            assert refused.status == 403
            assert (await refused.json())["error"] == "cross_site"
        same = {**cookie, "Origin": h.url, "Sec-Fetch-Site": "same-origin"}
        async with h.client.post(f"{h.url}/session", headers=same) as allowed:
            assert allowed.status == 200


async def test_signing_out_and_deleting_the_token_end_the_session(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with await login(h, tokens.secrets["r"]) as first:
            one = {"Cookie": f"{COOKIE}={cookie_of(first)}"}
        async with await login(h, tokens.secrets["r"]) as second:
            two = {"Cookie": f"{COOKIE}={cookie_of(second)}"}
        async with h.client.post(
            f"{h.url}/_auth/logout", headers={**one, "Origin": h.url}, allow_redirects=False
        ) as out:
            assert out.status == 303 and out.headers["Location"] == "/_auth/login"
            assert "max-age=0" in set_cookies(out)[0].lower()
        async with h.client.get(f"{h.url}/vcs", headers=one) as ended:
            assert ended.status == 401
        async with h.client.get(f"{h.url}/vcs", headers=two) as other:
            assert other.status == 200  # one device out, not everyone
        TokenStore(tokens.path).delete([tokens.ids["r"]])
        async with h.client.get(f"{h.url}/vcs", headers=two) as gone:
            assert gone.status == 401
        async with h.client.get(
            f"{h.url}/vcs", headers={**two, **NAVIGATE}, allow_redirects=False
        ) as page:
            assert page.status == 303 and page.headers["Location"].startswith("/_auth/login")
            assert "max-age=0" in set_cookies(page)[0].lower()  # the stale cookie cleared


async def test_a_cookie_event_stream_ends_when_its_token_is_deleted(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with await login(h, tokens.secrets["rwx"]) as signed:
            cookie = {"Cookie": f"{COOKIE}={cookie_of(signed)}"}
        async with h.client.get(f"{h.url}/event", headers=cookie) as events:
            assert events.status == 200
            await asyncio.wait_for(events.content.readuntil(b"\n\n"), 5)
            TokenStore(tokens.path).delete([tokens.ids["rwx"]])
            rest = await asyncio.wait_for(events.content.read(), 2)
            assert b"second" not in rest


# --- pairing -------------------------------------------------------------------------


async def test_a_pairing_link_signs_one_browser_in_once(tokens: Tokens) -> None:
    store = TokenStore(tokens.path)
    pairing = store.create_pairing(tokens.ids["rwx"])
    code = pairing.code.reveal()
    async with gateway_harness(tokens) as h:
        for _ in range(2):  # looking (a chat app's link preview) consumes nothing
            async with h.client.get(f"{h.url}/_auth/pair?code={code}") as page:
                assert page.status == 200
                html = await page.text()
                assert "<form" in html and "rwx" in html and tokens.secrets["rwx"] not in html
        async with h.client.post(
            f"{h.url}/_auth/pair",
            data={"code": code},
            headers={"Origin": h.url},
            allow_redirects=False,
        ) as paired:
            assert paired.status == 303 and paired.headers["Location"] == "/"
            cookie = {"Cookie": f"{COOKIE}={cookie_of(paired)}"}
        async with h.client.get(f"{h.url}/session", headers=cookie) as used:
            assert used.status == 200
        [session] = store.sessions()
        assert session.via == "pairing" and session.token_id == tokens.ids["rwx"]
        async with h.client.post(
            f"{h.url}/_auth/pair",
            data={"code": code},
            headers={"Origin": h.url},
            allow_redirects=False,
        ) as again:
            assert again.status == 410 and set_cookies(again) == []
            assert "already used" in await again.text()
        async with h.client.get(f"{h.url}/_auth/pair?code={code}") as page:
            assert page.status == 410


async def test_a_pairing_link_of_a_deleted_token_grants_nothing(tokens: Tokens) -> None:
    store = TokenStore(tokens.path)
    code = store.create_pairing(tokens.ids["r"]).code.reveal()
    store.delete([tokens.ids["r"]])
    async with (
        gateway_harness(tokens) as h,
        h.client.post(
            f"{h.url}/_auth/pair",
            data={"code": code},
            headers={"Origin": h.url},
            allow_redirects=False,
        ) as refused,
    ):
        assert refused.status == 410 and set_cookies(refused) == []
    assert store.sessions() == ()


# --- TLS and forward-auth ----------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl, as an operator would make one)."""
    import subprocess

    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_under_tls_the_cookie_is_secure_and_host_only(tokens: Tokens, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with (
        gateway_harness(tokens, tls=context) as h,
        h.client.post(
            f"{h.url}/_auth/login",
            data={"token": tokens.secrets["r"], "next": "/"},
            headers={"Origin": h.url},
            allow_redirects=False,
            ssl=False,
        ) as signed,
    ):
        [header] = set_cookies(signed)
        assert header.startswith(f"{SECURE_COOKIE}=")
        assert "; secure" in header.lower() and "domain" not in header.lower()


async def test_forward_auth_serves_the_pages_and_decides_on_the_cookie(tokens: Tokens) -> None:
    from core.gateway.server import Listener
    from core.gateway.settings import ListenAddress

    listener = Listener(decision_only_forward_auth(tokens), ListenAddress("127.0.0.1", 0))
    await listener.start()
    try:
        url = listener.url
        async with aiohttp.ClientSession() as client:
            proxied = {"Host": "gw.example", "Origin": "http://gw.example"}
            async with client.post(
                f"{url}/_auth/login",
                data={"token": tokens.secrets["r"], "next": "/"},
                headers=proxied,
                allow_redirects=False,
            ) as signed:
                assert signed.status == 303
                cookie = {"Cookie": f"{COOKIE}={cookie_of(signed)}"}
            nginx = {"X-Original-Method": "GET", "X-Original-URI": "/vcs"}
            async with client.get(f"{url}/auth", headers={**nginx, **cookie}) as ok:
                assert ok.status == 200 and ok.headers["X-Auth-Token-Id"] == tokens.ids["r"]
            async with client.get(f"{url}/auth", headers={**nginx, **NAVIGATE}) as nav:
                assert nav.status == 401  # nginx keeps only 2xx/401/403
                assert nav.headers["X-Auth-Redirect"] == "/_auth/login?next=%2Fvcs"
            caddy = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/vcs"}
            async with client.get(
                f"{url}/auth", headers={**caddy, **NAVIGATE}, allow_redirects=False
            ) as nav:
                assert nav.status == 303  # Caddy passes the answer on as it is
                assert nav.headers["Location"] == "/_auth/login?next=%2Fvcs"
    finally:
        await listener.stop()
