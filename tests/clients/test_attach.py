"""`opencode attach URL -p PASSWORD`, opencode's own TUI, under tmux against a real
`opencode serve`: directly with opencode's password, and with a token in place of the
password through the gateway and through nginx + forward-auth.

attach sends `Authorization: Basic base64(opencode:PASSWORD)`; a token as the
password is accepted (the username is ignored). On start it needs /agent, /config,
/config/providers and /provider, which need execute: a read+execute token is enough.
When a start-up request fails, attach prints `Error: <the answer's message>` and exits 1:
the gateway's message, through nginx too (its config answers a refusal with
forward-auth's JSON, not with its own HTML page).
"""

from __future__ import annotations

import json
import re

from tests.clients import harness


def _attach(tmux: harness.Tmux, binary: str, url: str, password: str) -> None:
    tmux.start(
        harness.attach_argv(binary, url, password), harness.client_env(tmux.home), cwd=tmux.home
    )


def _connected(tmux: harness.Tmux, server: harness.Server) -> str:
    # The status line names the server's directory (attach sends none of its own);
    # it may be drawn a moment after the prompt.
    project = str(server.project)
    screen = tmux.wait_for(
        lambda s: harness.attach_connected(s) and project in s, "attach's connected screen"
    )
    assert "[exit" not in screen
    return screen


def _gave_up(tmux: harness.Tmux) -> list[str]:
    """The lines attach printed before exiting 1 (wrapped lines joined)."""
    tmux.wait_for(lambda s: "[exit" in s, "attach to give up")
    lines = tmux.text().splitlines()
    assert lines[-1] == "[exit 1]", lines
    return lines


def test_attach_directly_with_the_password(
    opencode_binary: str, opencode_server: harness.Server, tmux: harness.Tmux
) -> None:
    _attach(tmux, opencode_binary, opencode_server.url, opencode_server.password)
    _connected(tmux, opencode_server)


def test_attach_with_a_read_execute_token(
    opencode_binary: str,
    opencode_server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
    tmux: harness.Tmux,
) -> None:
    mark = front.mark()
    _attach(tmux, opencode_binary, front.url, tokens.secrets["rx"])
    _connected(tmux, opencode_server)
    rows = front.settle(mark)
    # Every request attach made was decided as that token and allowed.
    assert rows and {r["token_id"] for r in rows if r["reason"] != "public"} == {tokens.ids["rx"]}
    assert harness.refusals(rows) == []
    assert {"/agent", "/config", "/config/providers", "/provider"} <= {r["path"] for r in rows}


def test_attach_takes_the_token_from_the_environment(
    opencode_binary: str,
    opencode_server: harness.Server,
    gateway: harness.Front,
    tokens: harness.Tokens,
    tmux: harness.Tmux,
) -> None:
    # -p defaults to OPENCODE_SERVER_PASSWORD: the token stays out of the process list.
    mark = gateway.mark()
    env = {**harness.client_env(tmux.home), "OPENCODE_SERVER_PASSWORD": tokens.secrets["rx"]}
    tmux.start([opencode_binary, "attach", gateway.url], env, cwd=tmux.home)
    _connected(tmux, opencode_server)
    rows = gateway.settle(mark)
    assert {r["token_id"] for r in rows if r["reason"] != "public"} == {tokens.ids["rx"]}


_MESSAGE = re.compile(r"Error: (GET (/\S+) needs read and execute; this token has read \(.+\))")


def test_attach_with_a_read_only_token_shows_the_gateways_message(
    opencode_binary: str,
    front: harness.Front,
    tokens: harness.Tokens,
    tmux: harness.Tmux,
) -> None:
    _attach(tmux, opencode_binary, front.url, tokens.secrets["r"])
    lines = _gave_up(tmux)
    # e.g. "Error: GET /config/providers needs read and execute; this token has read
    # (the configured providers include their API keys (`key`))", then a stack trace.
    # Which start-up request fails first varies; its message is the gateway's, as is -
    # through nginx too, where it once read "Request is not supported by this version
    # of OpenCode Server (Server responded with text/html)".
    found = _MESSAGE.fullmatch(lines[0])
    assert found is not None, lines
    status, _, body = harness._real_servers().request(
        front.url, path=found.group(2), headers={"Authorization": f"Bearer {tokens.secrets['r']}"}
    )
    assert status == 403
    assert json.loads(body)["message"] == found.group(1)
    assert not harness.attach_connected("\n".join(lines))
    assert "text/html" not in "\n".join(lines)


def test_attach_with_a_token_not_in_the_store(
    opencode_binary: str, front: harness.Front, tmux: harness.Tmux
) -> None:
    _attach(tmux, opencode_binary, front.url, harness.unissued_token())
    lines = _gave_up(tmux)
    assert lines[0] == (
        "Error: this token is not in the store: it was deleted, rotated or never issued"
    )
