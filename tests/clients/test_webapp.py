"""The web app that `opencode serve` serves at `/`, in Debian's Chromium (Playwright),
directly against a real opencode: the browser's Basic prompt, the session list, a
session, a terminal over the PTY WebSocket with a connect ticket, `?auth_token=`."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest

from tests.clients import harness, record_webapp_requests

WAIT_MS = harness.WAIT * 1000


def _credentials(server: harness.Server) -> dict[str, str]:
    return {"username": "opencode", "password": server.password}


def test_a_navigation_without_credentials_gets_a_basic_challenge(
    opencode_server: harness.Server,
) -> None:
    status, headers, _ = harness.plain_request(opencode_server.url, target="/")
    assert status == 401
    assert [c.split(" ", 1)[0] for c in headers["www-authenticate"]] == ["Basic"]


def test_auth_token_opens_the_page_but_not_its_scripts(opencode_server: harness.Server) -> None:
    # opencode accepts ?auth_token= on any request, but the page's own scripts are
    # loaded without it: a fresh browser still needs the Basic prompt.
    token = harness.basic_credentials(opencode_server.password)
    status, _, body = harness.plain_request(
        opencode_server.url, target="/?auth_token=" + urllib.parse.quote(token)
    )
    assert status == 200
    script = re.search(rb'src="(/assets/[^"]+\.js)"', body)
    assert script is not None
    status, _, _ = harness.plain_request(opencode_server.url, target=script.group(1).decode())
    assert status == 401


def _assert_same_origin_and_no_preflight(log: harness.RequestLog, origin: str) -> None:
    assert [s.url for s in log.seen if s.method == "OPTIONS"] == []
    ws_origin = origin.replace("http://", "ws://", 1)
    foreign = [s.url for s in log.seen if not s.url.startswith((origin + "/", ws_origin + "/"))]
    assert foreign == []


@pytest.mark.parametrize("host", ["127.0.0.1", harness.TEST_HOST])
def test_webapp_lists_sessions_and_opens_a_terminal(
    playwright: Any, chromium: str, opencode_server: harness.Server, host: str
) -> None:
    # Also under a name that is not loopback: opencode issues a PTY ticket only when
    # the Origin is one it trusts or matches the Host header.
    origin = harness.with_host(opencode_server.url, host)
    hosts = {harness.TEST_HOST: "127.0.0.1"}
    with harness.browser(
        playwright, chromium, _credentials(opencode_server), hosts=hosts
    ) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        log = harness.RequestLog()
        log.watch(context)
        page = context.new_page()
        page.goto(origin + "/")
        session = page.get_by_text(harness.SESSION_TITLE).first
        session.wait_for(timeout=WAIT_MS)

        log.phase = "session"
        session.click()
        log.phase = "terminal"
        harness.open_terminal(page)
        page.wait_for_timeout(500)  # let the shell print its prompt
        harness.type_in_terminal(page, "echo oat-$((6*7))\n")
        harness.wait_until(
            lambda: "oat-42" in log.terminal_text(),
            "the terminal's echo",
            pause=harness.page_pause(page),
        )

    # The PTY flow: POST /pty, a ticket from POST /pty/{id}/connect-token (sent with
    # x-opencode-ticket: 1), then the WebSocket /pty/{id}/connect?...&ticket=...
    tokens = [
        s for s in log.seen if s.method == "POST" and s.url.split("?")[0].endswith("/connect-token")
    ]
    assert tokens and all(s.headers.get("x-opencode-ticket") == "1" for s in tokens)
    sockets = log.websockets()
    assert sockets
    for ws in sockets:
        url = urllib.parse.urlsplit(ws.url)
        query = urllib.parse.parse_qs(url.query)
        assert re.fullmatch(r"/pty/[^/]+/connect", url.path)
        assert query.get("ticket") and "auth_token" not in query
        assert query["directory"] == [str(opencode_server.project)]
    _assert_same_origin_and_no_preflight(log, origin)
    _assert_recorded(log, opencode_server)


def _assert_recorded(log: harness.RequestLog, server: harness.Server) -> None:
    """Every request of this walk is in data/webapp-requests.json (else: re-record it)."""
    status, doc = server.api("GET", "/doc")
    assert status == 200
    templates = record_webapp_requests.Templates(list(doc["paths"]))
    rows = record_webapp_requests.summarise(log, templates, {})
    recorded = json.loads(record_webapp_requests.OUT.read_text())
    known = {(r["method"], r["path"]) for r in recorded["requests"]}
    missing = sorted({(r["method"], r["path"]) for r in rows} - known)
    assert missing == [], "run tests/clients/record_webapp_requests.py"


def test_auth_token_is_taken_out_of_the_url_and_not_stored(
    playwright: Any, chromium: str, opencode_server: harness.Server
) -> None:
    token = harness.basic_credentials(opencode_server.password)
    with harness.browser(playwright, chromium, _credentials(opencode_server)) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        log = harness.RequestLog()
        log.watch(context)
        page = context.new_page()
        page.goto(opencode_server.url + "/?auth_token=" + urllib.parse.quote(token))
        page.get_by_text(harness.SESSION_TITLE).first.wait_for(timeout=WAIT_MS)
        assert "auth_token" not in page.url
        stored = page.evaluate(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        assert token not in stored and opencode_server.password not in stored

    # The app sends the decoded credentials itself, as `Authorization: Basic`, on its
    # API requests (fetch); the page and its assets rely on the browser's own login.
    api = [s for s in log.seen if s.kind == "fetch"]
    assert api and all(s.headers.get("authorization") == "Basic" for s in api)
    assert [s.url for s in log.seen if "auth_token=" in s.url] == [
        opencode_server.url + "/?auth_token=" + urllib.parse.quote(token)
    ]
    _assert_same_origin_and_no_preflight(log, opencode_server.url)
