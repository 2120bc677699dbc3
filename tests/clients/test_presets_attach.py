"""`opencode attach` 1.18.33, under tmux, through the gateway, with a token of each
preset (made by `token create NAME --preset NAME`): what each preset says it is
for, held to the real client.

- full: attaches, and a typed prompt makes a session that holds it;
- watch: attaches, opens a session (`-s ID`) and follows it as it runs - and
  cannot prompt in it ("Failed to send prompt", with the gateway's reason) or start
  one ("Creating a session failed"), and nothing reaches opencode;
- files: attach gives up at once with the gateway's message.

Its own opencode and gateway (this module only), so the sessions it makes touch
no other test.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator

import pytest

from core.cli import main
from core.cli.console import TestConsole
from tests.clients import harness

PRESET_NAMES = ("full", "watch", "files")


@pytest.fixture(scope="module")
def server(opencode_binary: str) -> Iterator[harness.Server]:
    started = harness.start_server(opencode_binary)
    try:
        yield started
    finally:
        harness.stop_server(started)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> harness.Tokens:
    """One token per preset, made by the real command."""
    store = tmp_path_factory.mktemp("preset-attach") / "auth-tokens.json"
    made = harness.Tokens(store)
    for name in PRESET_NAMES:
        console = TestConsole()
        argv = ["--store", str(store), "token", "create", f"{name}-client", "--preset", name]
        assert main([*argv, "--json"], console=console) == 0, console.err
        record = json.loads(console.out)
        made.secrets[name], made.ids[name] = record["token"], record["id"]
    return made


@pytest.fixture(scope="module")
def front(server: harness.Server, tokens: harness.Tokens) -> Iterator[harness.Front]:
    started = harness.start_gateway(tokens, server)
    try:
        yield started
    finally:
        started.stop()


def sessions(server: harness.Server) -> set[str]:
    status, data = server.api("GET", f"/session?{server.in_project}")
    assert status == 200
    return {s["id"] for s in data}


def texts(server: harness.Server, session: str) -> list[str]:
    """The text parts of a session's messages, as opencode itself holds them."""
    status, data = server.api("GET", f"/session/{session}/message?{server.in_project}")
    assert status == 200
    return [part.get("text", "") for message in data for part in message["parts"]]


def add_prompt(server: harness.Server, session: str, text: str) -> None:
    """A user message added directly (opencode's password), no agent run: what the
    watcher sees when someone else prompts."""
    status, data = server.api(
        "POST",
        f"/session/{session}/message?{server.in_project}",
        {"noReply": True, "parts": [{"type": "text", "text": text}]},
    )
    assert status == 200, data


def attach(tmux: harness.Tmux, binary: str, url: str, token: str, *extra: str) -> None:
    tmux.start(
        harness.attach_argv(binary, url, token, *extra),
        harness.client_env(tmux.home),
        cwd=tmux.home,
    )


def type_prompt(tmux: harness.Tmux, text: str) -> None:
    tmux.send_keys("-l", text)
    tmux.wait_for(lambda screen: text in screen, "the typed prompt")
    tmux.send_keys("Enter")


def marker() -> str:
    return f"preset-{secrets.token_hex(4)}"


def test_full_attaches_and_prompts(
    opencode_binary: str,
    server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
    tmux: harness.Tmux,
) -> None:
    before = sessions(server)
    mark = front.mark()
    attach(tmux, opencode_binary, front.url, tokens.secrets["full"])
    tmux.wait_for(harness.attach_connected, "attach's prompt")
    text = marker()
    type_prompt(tmux, text)
    made = harness.wait_until(lambda: sessions(server) - before, "the session the prompt made")
    (session,) = made
    harness.wait_until(lambda: text in texts(server, session), "the prompt in the session")
    rows = front.access(mark)
    assert ("POST", "/session", 200) in {(r["method"], r["path"], r["status"]) for r in rows}
    assert harness.refusals(rows) == []


def test_watch_follows_a_session_as_it_runs_and_cannot_prompt_in_it(
    opencode_binary: str,
    server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
    tmux: harness.Tmux,
) -> None:
    session = server.create_session("a session to watch")
    first, second = marker(), marker()
    add_prompt(server, session, first)
    mark = front.mark()
    attach(tmux, opencode_binary, front.url, tokens.secrets["watch"], "-s", session)
    tmux.wait_for(lambda screen: first in screen, "the session's history")
    add_prompt(server, session, second)  # someone else prompts: the watcher sees it come
    tmux.wait_for(lambda screen: second in screen, "the session followed as it runs")
    followed = front.access(mark)
    assert followed and harness.refusals(followed) == []
    assert {r["token_id"] for r in followed if r["reason"] != "public"} == {tokens.ids["watch"]}

    held = texts(server, session)
    mark = front.mark()
    type_prompt(tmux, "may I")
    screen = tmux.wait_for(lambda s: "Failed to send prompt" in s, "the refusal")
    assert "POST /session/{sessionID}/message needs write and" in screen  # the gateway's words
    refused = harness.refusals(front.rows(mark, 1))
    assert refused == [("POST", f"/session/{session}/message", 403, "insufficient_scope")], refused
    assert texts(server, session) == held  # nothing reached the session


def test_watch_cannot_start_a_session(
    opencode_binary: str,
    server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
    tmux: harness.Tmux,
) -> None:
    before = sessions(server)
    mark = front.mark()
    attach(tmux, opencode_binary, front.url, tokens.secrets["watch"])
    tmux.wait_for(harness.attach_connected, "attach's prompt")
    assert harness.refusals(front.settle(mark)) == []  # attaching needs nothing more
    mark = front.mark()
    type_prompt(tmux, marker())
    tmux.wait_for(lambda s: "Creating a session failed" in s, "the refusal")
    assert harness.refusals(front.rows(mark, 1)) == [
        ("POST", "/session", 403, "insufficient_scope")
    ]
    assert sessions(server) == before


_GAVE_UP = re.compile(r"Error: GET (/\S+) needs read and execute; this token has read \(.+\)")


def test_files_cannot_attach(
    opencode_binary: str, front: harness.Front, tokens: harness.Tokens, tmux: harness.Tmux
) -> None:
    attach(tmux, opencode_binary, front.url, tokens.secrets["files"])
    tmux.wait_for(lambda s: "[exit" in s, "attach to give up")
    lines = tmux.text().splitlines()
    assert _GAVE_UP.fullmatch(lines[0]), lines
    assert lines[-1] == "[exit 1]"
