"""Issue 16, attack 4: a page of a sibling origin (the same host, another port - the
same site, so Chromium sends the browser's credentials along: opencode's Basic login,
a front's session cookie - SameSite=Strict keeps it from other sites only) opens a
terminal's WebSocket on the front with the credentials the browser holds, and types
into it.

nginx's `auth_request` subrequest carries no `Upgrade`, so forward-auth once took
the handshake for a plain GET, which the cross-site check exempts; the terminal
opened. forward-auth now treats a GET of a WebSocket route as a handshake.

- opencode itself (its password, the control): the page's WebSocket opens and the
  typed command runs - the attack is real, and the page works.
- the gateway, nginx and Caddy (signed in with a full token): the handshake is refused (403
  cross_site in the access log), nothing reaches the terminal - opencode's replay
  of its output, read directly afterwards, holds no trace of the command.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients import harness

# Resolves once the socket is open and the line sent, or once it closed unopened.
_OPEN_AND_TYPE = """([url, line]) => new Promise(done => {
  const events = [];
  const ws = new WebSocket(url);
  ws.onopen = () => { events.push("open"); ws.send(line); done(events); };
  ws.onerror = () => events.push("error");
  ws.onclose = (e) => { events.push("close " + e.code); done(events); };
})"""


@pytest.fixture
def terminal(opencode_server: harness.Server) -> Iterator[str]:
    """A terminal (the default shell) created directly with opencode's password, as
    the person's own web app would have made it; its id is what the page guesses."""
    pty = opencode_server.create_pty()
    harness.wait_until(lambda: opencode_server.pty_output(pty, 0.3), "the shell's prompt")
    try:
        yield pty
    finally:
        opencode_server.remove_pty(pty)


def _attack(
    playwright: Any,
    chromium: str,
    base: str,
    url: str,
    line: str,
    *,
    login: dict[str, str] | None = None,
    token: str | None = None,
) -> list[str]:
    """Log in to `base` - opencode's Basic `login`, or sign in to a front with `token`
    (the browser then holds the credentials) -, go to a page of a sibling origin and
    run the WebSocket there; returns its events."""
    with harness.browser(playwright, chromium, login) as context:
        page = context.new_page()
        if token is None:
            answer = page.goto(base + "/path")
        else:
            answer = harness.sign_in(page, base, token, "/path")
        assert answer is not None and answer.status == 200  # logged in
        with harness.serve_page("<!doctype html><title>elsewhere</title>") as port:
            page.goto(f"http://127.0.0.1:{port}/")
            events: list[str] = page.evaluate(_OPEN_AND_TYPE, [url, line])
            page.wait_for_timeout(300)  # a sent line is on its way before the page goes
    return events


def _socket_url(base: str, server: harness.Server, pty: str) -> str:
    return base.replace("http://", "ws://", 1) + f"/pty/{pty}/connect?{server.in_project}"


def test_a_sibling_page_types_into_a_terminal_of_bare_opencode(
    playwright: Any, chromium: str, opencode_server: harness.Server, terminal: str
) -> None:
    """The control: opencode itself trusts any loopback Origin, and the page's socket
    carries the browser's login - the command runs."""
    marker = opencode_server.home / f"typed-{secrets.token_hex(4)}"
    line = f"touch {marker}\n"
    url = _socket_url(opencode_server.url, opencode_server, terminal)
    login = harness.password_login(opencode_server)
    try:
        events = _attack(playwright, chromium, opencode_server.url, url, line, login=login)
        assert events == ["open"]
        harness.wait_until(marker.exists, "the typed command's marker")
        assert f"touch {marker}" in opencode_server.pty_output(terminal)
    finally:
        marker.unlink(missing_ok=True)


def test_a_sibling_page_gets_no_terminal_through_the_front(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    every_front: harness.Front,
    tokens: harness.Tokens,
    terminal: str,
) -> None:
    front = every_front
    marker = opencode_server.home / f"typed-{secrets.token_hex(4)}"
    line = f"touch {marker}\n"
    mark = front.mark()
    events = _attack(
        playwright,
        chromium,
        front.url,
        _socket_url(front.url, opencode_server, terminal),
        line,
        token=tokens.secrets["rwx"],
    )
    rows = front.settle(mark)

    assert "open" not in events and events[-1] == "close 1006"  # the handshake failed
    connects = [
        (r["status"], r["reason"], r["token_id"])
        for r in rows
        if r["path"] == f"/pty/{terminal}/connect"
    ]
    # refused for where it came from, with the browser's session: not for lack of one
    assert connects == [(403, "cross_site", tokens.ids["rwx"])]
    assert not marker.exists()
    assert terminal in opencode_server.ptys()  # still there, untouched:
    assert f"touch {marker}" not in opencode_server.pty_output(terminal)
