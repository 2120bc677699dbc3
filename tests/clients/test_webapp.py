"""The web app that `opencode serve` serves at `/`, in Debian's Chromium (Playwright):
directly with opencode's password, and signed in with a token through the gateway and
through nginx + forward-auth - the login page, the session list, a session, a terminal
over the PTY WebSocket, `?auth_token=`, and what a page of another origin gets.

Directly, Playwright's `http_credentials` answer opencode's Basic challenge the way a
person fills in the browser's prompt. Through a front a browser meets no challenge: a
page without a session is sent to the login page, where the person pastes the token
(harness.sign_in); Chromium then sends the session cookie on every request to that
origin, the terminal's WebSocket included. Programs still use Basic and Bearer (the
API-level checks here, tests/gateway).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.clients import harness, record_webapp_requests

WAIT_MS = harness.WAIT * 1000
# The screenshot in screenshots/ is made by the gateway walk itself:
#   OAT_WEBAPP_SCREENSHOT=screenshots/webapp-gateway.png \
#       .venv/bin/python -m pytest tests/clients/test_webapp.py -k "full_token and gateway"
SCREENSHOT_ENV = "OAT_WEBAPP_SCREENSHOT"  # a path (relative: to the repository)

# The refusals a full token still meets in the web app, each for a reason of the
# browser's own; every other request must have been allowed. (The first navigation,
# without a session, is no refusal: it is sent to the login page with a 303.)
EXPECTED_REFUSALS = {
    # <link rel="manifest"> is fetched without credentials (no
    # crossorigin="use-credentials"), so without the cookie; the app does not need it.
    # Directly, opencode answers it with 401 as well.
    ("GET", "/site.webmanifest", 401, "missing_token"),
}


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


# --- no credentials -------------------------------------------------------------------


def test_opencode_itself_challenges_with_basic_only(opencode_server: harness.Server) -> None:
    status, headers, _ = harness.plain_request(opencode_server.url, target="/")
    assert status == 401
    assert headers["www-authenticate"] == ['Basic realm="Secure Area"']


def test_a_navigation_without_credentials_gets_the_login_page(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
) -> None:
    """A browser without a session meets no Basic prompt: its navigation is sent (303,
    no challenge) to the front's login page, which keeps where it was going; signing
    in there lands on the web app. A program without credentials still gets 401 with
    the challenges and forward-auth's JSON."""
    with harness.browser(playwright, chromium) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        page = context.new_page()
        answer = page.goto(front.url + "/session?roots=true")
        assert answer is not None and answer.status == 200
        assert page.url == front.url + "/_auth/login?next=%2Fsession%3Froots%3Dtrue"
        assert page.title() == "Sign in - opencode"
        page.get_by_label("API token").wait_for(timeout=WAIT_MS)
        first = answer.request.redirected_from
        assert first is not None and first.url == front.url + "/session?roots=true"
        redirect = first.response()
        assert redirect is not None and redirect.status == 303
        assert redirect.headers["location"] == "/_auth/login?next=%2Fsession%3Froots%3Dtrue"
        # No prompt: a browser answers WWW-Authenticate only on a 401 (the page above
        # loaded, which a prompt left unanswered would have failed). nginx's
        # auth_request copies the subrequest's challenge onto whatever the named
        # location returns, the 303 included; the gateway sends none.
        if front.kind == "gateway":
            assert "www-authenticate" not in redirect.headers
        else:
            assert redirect.headers.get("www-authenticate") in (None, 'Basic realm="opencode"')
        assert harness.session_cookies(context) == []

        landed = harness.sign_in(page, front.url, tokens.secrets["rwx"])
        assert landed is not None and landed.status == 200
        page.get_by_text(harness.SESSION_TITLE).first.wait_for(timeout=WAIT_MS)
        assert [c["name"] for c in harness.session_cookies(context)] == ["oat_session"]

    # A program (no Sec-Fetch-*, no Accept: text/html) gets the challenges, and the
    # same JSON body through each front (nginx's config answers with forward-auth's).
    status, headers, body = harness.plain_request(front.url, target="/")
    assert status == 401 and headers["content-type"][0].startswith("application/json")
    if front.kind == "gateway":
        # Basic first (a browser would prompt), then RFC 6750's Bearer.
        assert headers["www-authenticate"] == ['Basic realm="opencode"', 'Bearer realm="opencode"']
    else:
        # nginx 1.22 passes on only the first challenge of the auth_request answer.
        assert headers["www-authenticate"] == ['Basic realm="opencode"']
    assert json.loads(body) == {
        "error": "missing_token",
        "required": ["read"],
        "granted": [],
        "message": "no token: send Authorization: Bearer <token>, or Basic credentials "
        "with the token as the password",
    }


# --- a full token ---------------------------------------------------------------------


def _assert_pty_flow(log: harness.RequestLog, project: Path) -> None:
    """POST /pty, a ticket from POST /pty/{id}/connect-token (sent with
    x-opencode-ticket: 1), then the WebSocket /pty/{id}/connect?...&ticket=..."""
    tickets = [
        s for s in log.seen if s.method == "POST" and _path(s.url).endswith("/connect-token")
    ]
    assert tickets and all(s.headers.get("x-opencode-ticket") == "1" for s in tickets)
    sockets = log.websockets()
    assert sockets
    for ws in sockets:
        url = urllib.parse.urlsplit(ws.url)
        query = urllib.parse.parse_qs(url.query)
        assert re.fullmatch(r"/pty/[^/]+/connect", url.path)
        assert query.get("ticket") and "auth_token" not in query
        assert query["directory"] == [str(project)]


def _assert_same_origin_and_no_preflight(log: harness.RequestLog, origin: str) -> None:
    assert [s.url for s in log.seen if s.method == "OPTIONS"] == []
    ws_origin = origin.replace("http://", "ws://", 1)
    foreign = [s.url for s in log.seen if not s.url.startswith((origin + "/", ws_origin + "/"))]
    assert foreign == []


def _assert_recorded(log: harness.RequestLog, server: harness.Server) -> None:
    """Every request of this walk is in data/webapp-requests.json (else: re-record it);
    the sign-in pages are the front's own, not the app's."""
    status, doc = server.api("GET", "/doc")
    assert status == 200
    templates = record_webapp_requests.Templates(list(doc["paths"]))
    app = harness.RequestLog(seen=[s for s in log.seen if not harness.is_sign_in_page(s.url)])
    rows = record_webapp_requests.summarise(app, templates, {})
    recorded = json.loads(record_webapp_requests.OUT.read_text())
    known = {(r["method"], r["path"]) for r in recorded["requests"]}
    missing = sorted({(r["method"], r["path"]) for r in rows} - known)
    assert missing == [], "run tests/clients/record_webapp_requests.py"


def _browser_refusals(log: harness.RequestLog) -> set[tuple[str, str, int]]:
    return {
        (s.method, _path(s.url), s.status)
        for s in log.seen
        if s.status is not None and s.status >= 400
    }


def test_webapp_directly_with_the_password(
    playwright: Any, chromium: str, opencode_server: harness.Server
) -> None:
    """The floor: the same walk against opencode itself, with its password."""
    log = harness.RequestLog()
    with harness.browser(playwright, chromium, harness.password_login(opencode_server)) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        harness.walk_to_terminal(context, opencode_server.url, log)
    _assert_pty_flow(log, opencode_server.project)
    _assert_same_origin_and_no_preflight(log, opencode_server.url)
    assert _browser_refusals(log) <= {("GET", "/site.webmanifest", 401)}
    _assert_recorded(log, opencode_server)


def test_webapp_with_a_full_token(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
) -> None:
    # Under a name that is not loopback (resolved to 127.0.0.1 in this browser only):
    # opencode issues a PTY ticket only when Origin matches Host (it trusts any
    # loopback Origin), and the gateway refuses a WebSocket whose Origin does not -
    # so this also proves that both proxies keep the browser's Host.
    origin = harness.with_host(front.url, harness.TEST_HOST)
    log = harness.RequestLog()
    mark = front.mark()
    screenshot = os.environ.get(SCREENSHOT_ENV) if front.kind == "gateway" else None
    with harness.browser(playwright, chromium, hosts={harness.TEST_HOST: "127.0.0.1"}) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        page = harness.walk_to_terminal(context, origin, log, tokens.secrets["rwx"])
        if screenshot:
            page.wait_for_timeout(500)  # the echo drawn, the cursor settled
            page.screenshot(path=str(harness.ROOT / screenshot))
    rows = harness.app_rows(front.settle(mark))

    _assert_pty_flow(log, opencode_server.project)
    _assert_same_origin_and_no_preflight(log, origin)
    _assert_recorded(log, opencode_server)
    # Every request was decided - the WebSocket included - and allowed, but for the
    # browser's own unauthenticated first tries.
    assert set(harness.refusals(rows)) <= EXPECTED_REFUSALS, harness.refusals(rows)
    assert {r["token_id"] for r in rows if r["status"] < 400 and r["reason"] != "public"} == {
        tokens.ids["rwx"]
    }
    # By the policy row that decided (forward-auth's access log gives the method of
    # nginx's auth subrequest, always GET, in its `method` field: see the report).
    decided = {r.get("rule") for r in rows if r["status"] < 400}
    assert {
        "GET /session",
        "GET /session/{sessionID}",
        "POST /pty",
        "POST /pty/{ptyID}/connect-token",
        "GET /pty/{ptyID}/connect",
    } <= decided
    assert _browser_refusals(log) <= {(m, p, s) for m, p, s, _ in EXPECTED_REFUSALS}


# --- a token that lacks permissions ---------------------------------------------------

_TOAST_MESSAGE = re.compile(r"GET (/\S+) needs read and execute; this token has read \(.+\)")


def test_webapp_with_a_read_only_token(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
) -> None:
    """Sessions need execute. The app shows an empty list, and its error toasts carry
    the gateway's message - through nginx too, whose config answers a refusal with
    forward-auth's JSON (they once carried nginx's HTML page, which the app took for
    a server of another version: "Server responded with text/html")."""
    mark = front.mark()
    with harness.browser(playwright, chromium) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        page = context.new_page()
        harness.sign_in(page, front.url, tokens.secrets["r"])
        page.get_by_text("Nothing here yet").wait_for(timeout=WAIT_MS)
        page.get_by_text("Create a session to get started").wait_for(timeout=WAIT_MS)
        page.get_by_text("New session").first.click()
        page.get_by_text("Failed to reload project").first.wait_for(timeout=WAIT_MS)
        toasts = [
            t
            for t in page.get_by_text(_TOAST_MESSAGE).all_inner_texts()
            if _TOAST_MESSAGE.fullmatch(t.strip())
        ]
        assert toasts
        for text in toasts:
            found = _TOAST_MESSAGE.fullmatch(text.strip())
            assert found is not None
            status, _, body = harness._real_servers().request(
                front.url,
                path=found.group(1),
                headers={"Authorization": f"Bearer {tokens.secrets['r']}"},
            )
            assert (status, json.loads(body)["message"]) == (403, text.strip())
        shown = page.inner_text("body")
        assert harness.SESSION_TITLE not in shown
        assert "text/html" not in shown and "not supported by this version" not in shown
    refused = [r for r in front.settle(mark) if r["status"] == 403]
    assert refused and {(r["reason"], r["token_id"]) for r in refused} == {
        ("insufficient_scope", tokens.ids["r"])
    }


def test_webapp_with_a_read_execute_token_gets_no_terminal(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    gateway: harness.Front,
    tokens: harness.Tokens,
) -> None:
    """read+execute lists and opens sessions, but a terminal is created with POST /pty,
    which needs write too: the panel opens empty, and the app says nothing."""
    mark = gateway.mark()
    log = harness.RequestLog()
    with harness.browser(playwright, chromium) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        log.watch(context)
        page = context.new_page()
        harness.sign_in(page, gateway.url, tokens.secrets["rx"])
        session = page.get_by_text(harness.SESSION_TITLE).first
        session.wait_for(timeout=WAIT_MS)
        session.click()
        page.locator("[contenteditable]").first.wait_for(timeout=WAIT_MS)
        page.keyboard.press("Control+Backquote")
        harness.wait_until(
            lambda: any(
                s.method == "POST" and _path(s.url) == "/pty" and s.status for s in log.seen
            ),
            "POST /pty answered",
            pause=harness.page_pause(page),
        )
        page.wait_for_timeout(1000)  # what the app does with the refusal
        assert page.locator("[data-component=terminal]").count() == 0
        assert "needs" not in page.inner_text("body")
    assert [(s.method, _path(s.url), s.status) for s in log.seen if "/pty" in s.url] == [
        ("POST", "/pty", 403)
    ]
    refused = [r for r in gateway.settle(mark) if r["status"] == 403]
    assert [(r["rule"], r["reason"], r["token_id"]) for r in refused] == [
        ("POST /pty", "insufficient_scope", tokens.ids["rx"])
    ]


# --- ?auth_token= -----------------------------------------------------------------------


def test_auth_token_directly_opens_the_page_but_not_its_scripts(
    opencode_server: harness.Server,
) -> None:
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


def test_auth_token_through_the_gateway_opens_the_page_and_no_more(
    playwright: Any, chromium: str, gateway: harness.Front, tokens: harness.Tokens
) -> None:
    """The gateway takes `?auth_token=` (base64 user:token) as credentials for that
    one request and strips it; the page's scripts and styles then go out without it
    and get 401 (they are no navigations, so no login page): the app never starts."""
    token = harness.basic_credentials(tokens.secrets["rwx"], "anyone")
    mark = gateway.mark()
    with harness.browser(playwright, chromium) as context:
        page = context.new_page()
        answer = page.goto(
            gateway.url + "/?auth_token=" + urllib.parse.quote(token), wait_until="commit"
        )
        assert answer is not None and answer.status == 200
        harness.wait_until(
            lambda: any(r["path"].startswith("/assets/") for r in gateway.access(mark)),
            "the page's scripts",
            pause=harness.page_pause(page),
        )
        assert page.inner_text("body").strip() == ""  # the app never starts
    rows = gateway.settle(mark)
    first = rows[0]
    assert (first["path"], first["status"], first["token_id"]) == ("/", 200, tokens.ids["rwx"])
    assets = [r for r in rows if r["path"].startswith("/assets/")]
    assert assets and {(r["status"], r["reason"]) for r in assets} == {(401, "missing_token")}
    assert not any(token in line for line in gateway.decider.out + gateway.decider.err)


def test_auth_token_with_a_browser_login_through_the_gateway(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    gateway: harness.Front,
    tokens: harness.Tokens,
) -> None:
    """Signed in as well (the login page, a session cookie), the app starts, takes
    auth_token out of the address bar and sends the credentials itself, as
    `Authorization: Basic`, on its API requests; it stores them nowhere, so a reload
    relies on the session."""
    token = harness.basic_credentials(tokens.secrets["rwx"], "anyone")
    with harness.browser(playwright, chromium) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        page = context.new_page()
        harness.sign_in(page, gateway.url, tokens.secrets["rwx"], "/path")
        mark = gateway.mark()
        log = harness.RequestLog()
        log.watch(context)
        page.goto(gateway.url + "/?auth_token=" + urllib.parse.quote(token))
        page.get_by_text(harness.SESSION_TITLE).first.wait_for(timeout=WAIT_MS)
        assert "auth_token" not in page.url
        stored = page.evaluate(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        assert token not in stored and tokens.secrets["rwx"] not in stored
    api = [s for s in log.seen if s.kind == "fetch"]
    assert api and all(s.headers.get("authorization") == "Basic" for s in api)
    assert [s.url for s in log.seen if "auth_token=" in s.url] == [
        gateway.url + "/?auth_token=" + urllib.parse.quote(token)
    ]
    # The page itself was allowed on auth_token, its static files on the session
    # cookie, the API requests on auth_token's credentials; only what a browser
    # fetches without credentials (the manifest) was refused.
    rows = gateway.settle(mark)
    assert rows[0]["path"] == "/" and rows[0]["token_id"] == tokens.ids["rwx"]
    for method, path, status, reason in harness.refusals(rows):
        assert (method, status, reason) == ("GET", 401, "missing_token")
        assert harness.static_file(path), path


def test_auth_token_through_nginx_gets_the_basic_challenge(
    nginx: harness.Front, tokens: harness.Tokens
) -> None:
    # nginx cannot take it out of the URL before opencode reads it, so forward-auth
    # refuses it: 401 with the Basic challenge, as if there were no credentials.
    token = harness.basic_credentials(tokens.secrets["rwx"], "anyone")
    mark = nginx.mark()
    status, headers, body = harness.plain_request(
        nginx.url, target="/?auth_token=" + urllib.parse.quote(token)
    )
    assert status == 401
    assert headers["www-authenticate"] == ['Basic realm="opencode"']
    answer = json.loads(body)
    assert answer["error"] == "url_credentials"
    assert answer["message"].startswith("auth_token in the URL cannot pass a proxy")
    assert token not in body.decode() and tokens.secrets["rwx"] not in body.decode()
    assert [(r["status"], r["reason"]) for r in nginx.settle(mark)] == [(401, "url_credentials")]


# --- another origin ---------------------------------------------------------------------

_FOREIGN_FETCHES = """async (base) => {
  const out = {};
  const attempt = async (name, url, init) => {
    try {
      const r = await fetch(url, init);
      out[name] = {status: r.status, type: r.type, body: await r.text()};
    } catch (e) {
      out[name] = {error: String(e)};
    }
  };
  const session = base + "/session";
  // a GET with the browser's credentials (read the sessions)
  await attempt("get", session, {credentials: "include"});
  // JSON: the browser asks first, with a preflight OPTIONS that carries no credentials
  await attempt("preflighted", session, {method: "POST", credentials: "include",
    headers: {"Content-Type": "application/json"}, body: "{}"});
  // a "simple" POST: no preflight, sent at once with the browser's credentials
  await attempt("simple", session, {method: "POST", credentials: "include",
    headers: {"Content-Type": "text/plain"}, body: "{}"});
  // no-cors: the page cannot read the answer, but the request is sent
  await attempt("no_cors", session, {method: "POST", mode: "no-cors", credentials: "include",
    body: "{}"});
  return out;
}"""


@pytest.mark.parametrize("page_host", ["127.0.0.1", "other.test"])
def test_a_page_of_another_origin_gets_nothing(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    gateway: harness.Front,
    tokens: harness.Tokens,
    page_host: str,
) -> None:
    """A person signed in to the gateway (the browser holds a session cookie of the
    token) opens a page of another origin that calls the gateway with fetch.

    - 127.0.0.1 on another port is the same site: Chromium sends the cookie along
      (SameSite=Strict keeps it from other sites only). The preflight carries none and
      gets 401; the POSTs arrive with it and get 403 cross_site; the GET is allowed
      but the page cannot read it (opencode answers loopback origins with
      Access-Control-Allow-Origin but never -Allow-Credentials).
    - other.test is another site: Chromium sends no cookie at all - 401 throughout.
    Either way the page reads nothing and opencode does nothing."""
    status, before = opencode_server.api("GET", "/session")
    assert status == 200
    with (
        harness.serve_page("<!doctype html><title>elsewhere</title>") as port,
        harness.browser(playwright, chromium, hosts={"other.test": "127.0.0.1"}) as context,
    ):
        page = context.new_page()
        harness.sign_in(page, gateway.url, tokens.secrets["rwx"], "/path")
        assert '"home"' in page.inner_text("body")  # signed in: the browser holds a cookie
        mark = gateway.mark()
        page.goto(f"http://{page_host}:{port}/")
        seen = page.evaluate(_FOREIGN_FETCHES, gateway.url)
    rows = [
        (r["method"], r["status"], r["reason"], r["token_id"])
        for r in gateway.settle(mark)
        if r["path"] == "/session"
    ]

    for name in ("get", "preflighted", "simple"):
        assert seen[name] == {"error": "TypeError: Failed to fetch"}, name
    assert seen["no_cors"] == {"status": 0, "type": "opaque", "body": ""}
    rwx = tokens.ids["rwx"]
    if page_host == "127.0.0.1":
        assert sorted(rows) == sorted(
            [
                ("GET", 200, "ok", rwx),
                ("OPTIONS", 401, "missing_token", None),
                ("POST", 403, "cross_site", rwx),
                ("POST", 403, "cross_site", rwx),
            ]
        )
    else:
        assert sorted(rows) == sorted(
            [
                ("GET", 401, "missing_token", None),
                ("OPTIONS", 401, "missing_token", None),
                ("POST", 401, "missing_token", None),
                ("POST", 401, "missing_token", None),
            ]
        )
    assert opencode_server.api("GET", "/session") == (200, before)
