"""The presets against a real opencode 1.18.33, through the real gateway, with
tokens made by the real command (`token create NAME --preset NAME`).

`files` reads the project's files and finds them by name, and is refused every
session route, the config and searching inside files - and nothing happens
(no session made, no key in a body). `watch` lists and reads sessions and is
refused making one. `full` makes one. (opencode attach with each preset, under
tmux: tests/clients/test_presets_attach.py.)
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import main
from core.cli.console import TestConsole
from tests.gateway import processes
from tests.gateway.real_servers import README_TEXT, Opencode, request

pytestmark = pytest.mark.opencode


class Front:
    """The gateway in front of the session's opencode, on a store of preset tokens."""

    def __init__(self, url: str, secrets: dict[str, str], opencode: Opencode) -> None:
        self.url = url
        self.secrets = secrets
        self.opencode = opencode

    def call(
        self, preset: str, method: str, target: str, body: object | None = None
    ) -> tuple[int, bytes]:
        raw = None if body is None else json.dumps(body).encode()
        if method == "POST" and raw is None:
            raw = b"{}"
        headers = {"Authorization": f"Bearer {self.secrets[preset]}"}
        status, _, data = request(self.url, method, target, headers, raw)
        return status, data

    def direct(self, method: str, target: str, body: object | None = None) -> object:
        """opencode itself, with its own password, in its project."""
        query = urllib.parse.urlencode({"directory": str(self.opencode.project)})
        raw = None if body is None else json.dumps(body).encode()
        status, _, data = request(
            self.opencode.url,
            method,
            f"{target}?{query}",
            {"Authorization": self.opencode.authorization},
            raw,
        )
        assert status == 200, data
        return json.loads(data)

    def sessions(self) -> set[str]:
        """The session ids opencode itself lists in its project."""
        listed = self.direct("GET", "/session")
        assert isinstance(listed, list)
        return {s["id"] for s in listed}

    def messages(self, session: str) -> list[str]:
        found = self.direct("GET", f"/session/{session}/message")
        assert isinstance(found, list)
        return [m["info"]["id"] for m in found]


def create_with_preset(store: Path, preset: str) -> str:
    """A token made as a person would: `token create NAME --preset PRESET --quiet`."""
    console = TestConsole()
    argv = ["--store", str(store), "token", "create", f"{preset}-client", "--preset", preset]
    code = main([*argv, "--quiet"], console=console)
    assert code == 0, console.err
    return console.out.strip()


@pytest.fixture(scope="module")
def front(opencode: Opencode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    store = tmp_path_factory.mktemp("preset-store") / "auth-tokens.json"
    secrets = {name: create_with_preset(store, name) for name in ("full", "watch", "files")}
    child = processes.gateway(store, opencode.url, password=opencode.password)
    try:
        url = child.listening_url()
        child.wait_for("serving the directories")
        yield Front(url, secrets, opencode)
    finally:
        child.stop()


# --- files ---------------------------------------------------------------------------


def test_files_lists_reads_and_finds_the_projects_files(front: Front) -> None:
    status, body = front.call("files", "GET", "/file?path=.")
    assert status == 200, body
    assert "README.md" in {entry["name"] for entry in json.loads(body)}
    status, body = front.call("files", "GET", "/file/content?path=README.md")
    assert status == 200, body
    assert json.loads(body)["content"] == README_TEXT.strip()  # opencode trims it
    status, body = front.call("files", "GET", "/find/file?query=READ")
    assert status == 200, body
    assert any(str(found).endswith("README.md") for found in json.loads(body))
    assert front.call("files", "GET", "/vcs/status")[0] == 200


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/session"),
        ("GET", "/session/status"),
        ("GET", "/event"),
        ("GET", "/config"),
        ("GET", "/config/providers"),
        ("GET", "/find?pattern=hello"),
    ],
)
def test_files_is_refused_sessions_config_events_and_search(
    front: Front, method: str, target: str
) -> None:
    status, body = front.call("files", method, target)
    assert status == 403
    refusal = json.loads(body)
    assert refusal["error"] == "insufficient_scope" and refusal["granted"] == ["read"]
    for canary in front.opencode.canaries:
        assert canary not in body.decode()


def test_files_cannot_make_a_session_and_none_is_made(front: Front) -> None:
    before = front.sessions()
    status, body = front.call("files", "POST", "/session", {"title": "from files"})
    assert status == 403 and json.loads(body)["required"] == ["write", "execute"]
    assert front.sessions() == before


# --- watch and full ---------------------------------------------------------------------


def test_watch_lists_and_reads_sessions_but_makes_none(front: Front) -> None:
    made = front.direct("POST", "/session", {"title": "watched"})
    assert isinstance(made, dict)
    watched = made["id"]
    front.direct(
        "POST",
        f"/session/{watched}/message",
        {"noReply": True, "parts": [{"type": "text", "text": "a prompt to watch"}]},
    )
    before, messages = front.sessions(), front.messages(watched)
    status, body = front.call("watch", "GET", "/session")
    assert status == 200
    assert watched in {s["id"] for s in json.loads(body)}
    status, body = front.call("watch", "GET", f"/session/{watched}/message")
    assert status == 200 and "a prompt to watch" in body.decode()
    status, body = front.call("watch", "POST", "/session", {"title": "from watch"})
    assert status == 403
    assert json.loads(body)["granted"] == ["read", "execute"]
    prompt = {"noReply": True, "parts": [{"type": "text", "text": "from watch"}]}
    for target in (f"/session/{watched}/message", f"/session/{watched}/prompt_async"):
        assert front.call("watch", "POST", target, prompt)[0] == 403
    assert front.sessions() == before
    assert front.messages(watched) == messages


def test_full_makes_a_session(front: Front) -> None:
    before = front.sessions()
    status, body = front.call("full", "POST", "/session", {"title": "from the full preset"})
    assert status == 200, body
    made = json.loads(body)["id"]
    assert front.sessions() == before | {made}
