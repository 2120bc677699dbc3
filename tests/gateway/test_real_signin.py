"""Sign-in through every front in front of the real opencode 1.18.33: the gateway,
nginx + forward-auth and Caddy + forward-auth (the README's configs). A page without
a session is sent to the login page; the login form's POST gives a cookie; the
cookie is decided as its token; a pairing link works once; logging out and deleting
the token end the session. (In a real browser: tests/clients/test_signin_browser.py.)
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from http.cookies import SimpleCookie

import pytest

from core.gateway.signin import COOKIE
from core.store import TokenStore
from tests.gateway.conftest import Tokens
from tests.gateway.real_servers import Nginx, RunningGateway, missing
from tests.gateway.real_servers import request as http

pytestmark = pytest.mark.opencode

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "text/html"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_nginx_logs_no_pairing_code(request: pytest.FixtureRequest, real_tokens: Tokens) -> None:
    """A pairing link holds its code in the query, and nginx's access log would keep
    it (the README's config leaves the sign-in pages out of it; forward-auth logs
    them with the path only)."""
    nginx: Nginx = request.getfixturevalue("nginx_front")
    assert nginx.access_log is not None
    store = TokenStore(real_tokens.path)
    device = store.create(name="phone-logged", permissions="read")
    try:
        code = store.create_pairing(device.record.id).code.reveal()
        assert http(nginx.url, "GET", f"/_auth/pair?code={code}")[0] == 200
        marker = f"/global/health?logged={secrets.token_hex(4)}"
        assert http(nginx.url, "GET", marker)[0] == 200
        deadline = time.monotonic() + 10
        while marker not in nginx.access_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        logged = nginx.access_log.read_text()
        assert marker in logged  # nginx does log, and has written this far
        leaked = code in logged or "/_auth/pair" in logged
        assert not leaked, "nginx logged the pairing link"  # (the code is not printed)
    finally:
        store.delete([device.record.id])


@pytest.fixture(params=["gateway", "nginx", "caddy"])
def front(request: pytest.FixtureRequest, opencode_gateway: RunningGateway) -> str:
    if request.param == "gateway":
        return opencode_gateway.url
    proxy: Nginx = request.getfixturevalue(f"{request.param}_front")
    if proxy.upstream_kind != "opencode":
        missing(f"{request.param} runs in front of the fake opencode here")
    return proxy.url


def cookie_in(headers: dict[str, str]) -> str:
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers["set-cookie"])
    return jar[COOKIE].value


def post_form(front: str, path: str, fields: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return http(
        front,
        "POST",
        path,
        {**FORM, "Origin": front},
        urllib.parse.urlencode(fields).encode(),
    )


def test_a_page_without_a_session_goes_to_the_login_page_and_an_api_call_gets_401(
    front: str,
) -> None:
    status, headers, _ = http(front, "GET", "/session?roots=true", NAVIGATE)
    assert status == 303, front
    assert headers["location"] == "/_auth/login?next=%2Fsession%3Froots%3Dtrue"
    status, headers, body = http(front, "GET", headers["location"])
    assert status == 200 and b'name="token"' in body
    assert "form-action 'self'" in headers["content-security-policy"]
    status, headers, _ = http(front, "GET", "/session")
    assert status == 401 and headers["www-authenticate"].startswith("Basic")


def test_the_login_form_gives_a_cookie_decided_as_its_token(
    front: str, real_tokens: Tokens
) -> None:
    status, headers, _ = post_form(
        front, "/_auth/login", {"token": real_tokens.secrets["r"], "next": "/vcs"}
    )
    assert status == 303 and headers["location"] == "/vcs", (front, status)
    cookie = {"Cookie": f"{COOKIE}={cookie_in(headers)}"}
    assert "httponly" in headers["set-cookie"].lower()
    assert http(front, "GET", "/vcs", cookie)[0] == 200
    assert http(front, "GET", "/session", cookie)[0] == 403  # read only: no sessions
    # signing out ends it, and only it
    status, headers, _ = http(front, "POST", "/_auth/logout", {**cookie, "Origin": front})
    assert status == 303 and headers["location"] == "/_auth/login"
    assert http(front, "GET", "/vcs", cookie)[0] == 401


def test_a_pairing_link_works_once_and_ends_with_its_token(front: str, real_tokens: Tokens) -> None:
    store = TokenStore(real_tokens.path)
    device = store.create(name=f"phone-{abs(hash(front)) % 10000}", permissions="read,execute")
    code = store.create_pairing(device.record.id).code.reveal()
    status, _, body = http(front, "GET", f"/_auth/pair?code={code}")
    assert status == 200 and device.record.name.encode() in body
    status, headers, _ = post_form(front, "/_auth/pair", {"code": code})
    assert status == 303 and headers["location"] == "/"
    cookie = {"Cookie": f"{COOKIE}={cookie_in(headers)}"}
    status, _, body = http(front, "GET", "/session", cookie)
    assert status == 200 and isinstance(json.loads(body), list)
    assert post_form(front, "/_auth/pair", {"code": code})[0] == 410  # used
    store.delete([device.record.id])
    assert http(front, "GET", "/session", cookie)[0] == 401
    status, headers, _ = http(front, "GET", "/", {**cookie, **NAVIGATE})
    assert status == 303 and headers["location"].startswith("/_auth/login")
