"""What a plain GET can make the real opencode 1.18.33 do, held to what `read` promises:
look at the project, never credentials, config content or a program of the config.

A review of opencode's handlers found GETs that did more than their `read` row said:
- `GET /api/model` returns each provider's request headers and body from the config,
  so an `options.apiKey` set there comes back in clear;
- `GET /mcp` and `GET /command` start the config's local MCP servers (commands);
- `GET /experimental/tool` and `/experimental/tool/ids` import the config folders'
  tool files (`.opencode/tool/*.js`), running their code;
- `GET /agent`, `/api/agent`, `/command`, `/api/command`, `/skill`, `/api/skill`
  return prompts, templates and skill text from the config folders.

Those rows now need read + execute (and `GET /tui/control/next`, which takes a
request off the attached TUI's queue, all three). Here a folder whose config holds a
key, an MCP command and a tool file that each leave a marker is served by a real
opencode of this module's own, behind the gateway and behind nginx + forward-auth:
the read token is refused on every such route and nothing starts, no key and no
config text comes back; then the read + execute token does get them (the controls
that prove the probe can fail), and the read token still reads the project.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway import processes
from tests.gateway.conftest import Tokens, make_tokens
from tests.gateway.real_servers import (
    Opencode,
    find_nginx,
    find_opencode,
    git_repository,
    missing,
    request,
    start_nginx,
    start_opencode,
    stop_opencode,
)

pytestmark = pytest.mark.opencode

KEY = "sk-ant-CANARY-FROM-THE-CONFIG-0123456789"
CONFIG_TEXTS = ("AGENT-CANARY", "COMMAND-CANARY", "SKILL-CANARY")
ROUTES = (
    "GET /api/model?location[directory]={d}",
    "GET /mcp?directory={d}",
    "GET /command?directory={d}",
    "GET /api/command?location[directory]={d}",
    "GET /experimental/tool/ids?directory={d}",
    "GET /experimental/tool?directory={d}&provider=anthropic&model=claude",
    "GET /agent?directory={d}",
    "GET /api/agent?location[directory]={d}",
    "GET /skill?directory={d}",
    "GET /api/skill?location[directory]={d}",
    "GET /tui/control/next?directory={d}",
)


@dataclass
class Served:
    opencode: Opencode
    folder: Path
    mcp_ran: Path
    tool_ran: Path
    tokens: Tokens
    fronts: dict[str, str]

    def started(self) -> list[str]:
        return [
            what
            for what, marker in (("MCP", self.mcp_ran), ("tool", self.tool_ran))
            if marker.exists()
        ]

    def target(self, route: str) -> tuple[str, str]:
        method, _, path = route.partition(" ")
        return method, path.format(d=urllib.parse.quote(str(self.folder), safe=""))


def _probe_folder(home: Path) -> tuple[Path, Path, Path]:
    folder = home / "probed"
    git_repository(folder)
    mcp_ran, tool_ran = home / "probed-mcp-ran", home / "probed-tool-ran"
    (folder / "opencode.json").write_text(
        json.dumps(
            {
                "$schema": "https://opencode.ai/config.json",
                "provider": {"anthropic": {"options": {"apiKey": KEY}}},
                "mcp": {
                    "probe": {
                        "type": "local",
                        "command": ["sh", "-c", f"date >> {mcp_ran}; sleep 30"],
                    }
                },
            }
        )
    )
    config = folder / ".opencode"
    for sub in ("tool", "agent", "command", "skill/spy"):
        (config / sub).mkdir(parents=True)
    (config / "tool" / "probe.js").write_text(
        'import fs from "fs";\n'
        f"fs.appendFileSync({json.dumps(str(tool_ran))}, 'imported\\n');\n"
        'export default { description: "probe", args: {}, async execute() { return "x" } };\n'
    )
    (config / "agent" / "spy.md").write_text("---\ndescription: spy\n---\nAGENT-CANARY\n")
    (config / "command" / "spy.md").write_text("---\ndescription: spy\n---\nCOMMAND-CANARY\n")
    (config / "skill" / "spy" / "SKILL.md").write_text(
        "---\nname: spy\ndescription: spy\n---\nSKILL-CANARY\n"
    )
    return folder, mcp_ran, tool_ran


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    binary = find_opencode()
    if binary is None:
        missing("opencode is not installed: run .ci/install-opencode.sh")
    nginx_binary = find_nginx()
    if nginx_binary is None:
        missing("nginx is not installed: run .ci/install-nginx.sh")
    oc = start_opencode(binary)
    children: list[processes.Child] = []
    proxies = []
    try:
        folder, mcp_ran, tool_ran = _probe_folder(oc.home)
        tokens = make_tokens(tmp_path_factory.mktemp("store") / "auth-tokens.json")
        gateway = processes.gateway(
            tokens.path, oc.url, "--directory", str(folder), password=oc.password
        )
        children.append(gateway)
        forward = processes.forward_auth(
            tokens.path, upstream=oc.url, directories=[str(folder)], password=oc.password
        )
        children.append(forward)
        fronts = {"gateway": gateway.listening_url()}
        gateway.wait_for("serving the directories")
        forward.wait_for("serving the directories")
        proxy = start_nginx(nginx_binary, oc.url, forward.listening_url(), oc.password)
        proxies.append(proxy)
        fronts["nginx"] = proxy.url
        yield Served(oc, folder, mcp_ran, tool_ran, tokens, fronts)
    finally:
        for proxy in proxies:
            proxy.stop()
        for child in children:
            child.stop()
        stop_opencode(oc, patience=2)


def _call(url: str, method: str, target: str, secret: str) -> tuple[int, str]:
    status, _, body = request(
        url, method, target, {"Authorization": f"Bearer {secret}"}, timeout=60
    )
    return status, body.decode(errors="replace")


def test_a_read_token_starts_nothing_and_reads_no_key_or_config(served: Served) -> None:
    """Every front, every route: 403, and afterwards no MCP server or tool file has
    run and no answer held the key or a config text. Then the same token still
    reads the project (the folder loads: no blanket refusal)."""
    secret = served.tokens.secrets["r"]
    for front, url in served.fronts.items():
        for route in ROUTES:
            method, target = served.target(route)
            status, body = _call(url, method, target, secret)
            assert status == 403, (front, route, status, body[:300])
            assert KEY not in body and not any(text in body for text in CONFIG_TEXTS)
        d = urllib.parse.quote(str(served.folder), safe="")
        status, body = _call(url, "GET", f"/file?path=.&directory={d}", secret)
        assert status == 200 and "opencode.json" in body, (front, status, body[:300])
    time.sleep(3)  # an MCP command or a tool import would have left its marker by now
    assert served.started() == []


def test_read_and_execute_get_them_which_proves_the_probe(served: Served) -> None:
    """The controls: with read + execute (through the gateway) the model listing
    holds the key, the MCP server starts, the tool file is imported, and the
    agents, commands and skills come back with their config texts."""
    url, secret = served.fronts["gateway"], served.tokens.secrets["rx"]
    bodies = []
    for route in ROUTES[:-1]:  # /tui/control/next needs write too (below)
        method, target = served.target(route)
        status, body = _call(url, method, target, secret)
        if route.startswith("GET /experimental/tool?"):
            assert status in (200, 400), (route, status, body[:300])  # 400: no such model
        else:
            assert status == 200, (route, status, body[:300])
        bodies.append(body)
    deadline = time.monotonic() + 20
    while not any(KEY in body for body in bodies) and time.monotonic() < deadline:
        # Once, in a loaded CI run, the first model listing came back without the
        # folder's provider options: asked again, it must hold the key within 20 s.
        time.sleep(0.5)
        bodies.append(_call(url, *served.target(ROUTES[0]), secret)[1])
    assert any(KEY in body for body in bodies)
    assert all(any(text in body for body in bodies) for text in CONFIG_TEXTS)
    deadline = time.monotonic() + 20
    while len(served.started()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served.started() == ["MCP", "tool"]
    method, target = served.target(ROUTES[-1])
    assert _call(url, method, target, secret)[0] == 403
