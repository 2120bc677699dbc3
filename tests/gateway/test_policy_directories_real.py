"""The policy's directory column, held against the real opencode 1.18.33.

A row that says opencode works in no directory (`none`), or only in the directory
of the session in its path (`session`), lets the gateway forward whatever
directory a request names: nothing checks it. That is safe only if opencode
really ignores it, because loading a folder runs the folder's code (its
`.opencode/plugin/*.js` are imported, its opencode.json's MCP commands start).
So every such row is sent a foreign folder - as `?directory=`, as the
`x-opencode-directory` header and as `?location[directory]=` - directly to
opencode with its own password, and the folder must never be loaded: no plugin
ran, no MCP command ran, opencode's log never names it, and no project appears
for it. A few web-app rows are checked the same way.

The controls prove the probe can fail: `instance` and `location` rows (with an
invalid body too: opencode loads the folder before it validates the body) do load
the folder, and then its plugin runs and the log names it (an instance also
registers its project; its MCP command starts once the MCP servers are asked for).

opencode 1.18.33 has no `GET /api/debug/location` (the web app's client knows it; the
server answers it with the web app's page), so its log is where a loaded folder
shows: "creating instance" / "booting location services" with the directory.
Requests that could do harm carry a body opencode refuses (400) before it acts,
and the opencode here is this module's own, so `POST /global/dispose` disturbs
no other test.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.authz.policy import DirectoryFrom, Rule, default_policy
from tests.gateway.real_servers import (
    Opencode,
    find_opencode,
    git_repository,
    missing,
    request,
    start_opencode,
    stop_opencode,
)

pytestmark = pytest.mark.opencode

# A body every operation of opencode 1.18.33 that reads one refuses (400) before it
# acts; the operations without a body ignore it.
REFUSED_BODY = b'"not an object"'
# Rows whose body could change something for real: opencode must have refused it.
MUST_REFUSE_BODY = {"PUT /auth/{providerID}", "PATCH /global/config", "POST /global/upgrade"}
# Some of the web app's static files, a spot check (the catch-all reads no directory).
WEBAPP_SAMPLE = ("GET /", "GET /assets/*", "GET /favicon.ico")
INPUTS = ("query", "header", "location")


@pytest.fixture(scope="module")
def own_opencode() -> Iterator[Opencode]:
    """An opencode of this module's own: the rows include `POST /global/dispose`."""
    binary = find_opencode()
    if binary is None:
        missing("opencode is not installed: run .ci/install-opencode.sh")
    server = start_opencode(binary)
    try:
        yield server
    finally:
        stop_opencode(server, patience=2)


@dataclass(frozen=True)
class Foreign:
    """A folder that proves it was loaded: its plugin and its MCP command each
    leave a marker, and opencode's log names it."""

    path: Path
    plugin_ran: Path
    mcp_ran: Path

    def traces(self, log: str) -> list[str]:
        found = []
        if self.plugin_ran.exists():
            found.append("its plugin ran")
        if self.mcp_ran.exists():
            found.append("its MCP command ran")
        if re.search(re.escape(str(self.path)) + r"(?![\w.-])", log):
            found.append("opencode's log names it")
        return found


class Folders:
    """Foreign folders under one parent, each a copy of one git repository (so a
    loaded one also shows as a project whose worktree is under the parent)."""

    def __init__(self, oc: Opencode, parent: str) -> None:
        self.parent = oc.home / parent
        self.markers = oc.home / f"{parent}-markers"
        self.markers.mkdir()
        self.template = oc.home / f"{parent}-template"
        git_repository(self.template)
        self.made: list[Foreign] = []

    def new(self) -> Foreign:
        name = f"f{len(self.made):03d}"
        path = self.parent / name
        shutil.copytree(self.template, path)
        plugin_ran, mcp_ran = self.markers / f"{name}-plugin", self.markers / f"{name}-mcp"
        plugins = path / ".opencode" / "plugin"
        plugins.mkdir(parents=True)
        (plugins / "probe.js").write_text(
            'import { appendFileSync } from "node:fs";\n'
            f"appendFileSync({json.dumps(str(plugin_ran))}, 'imported\\n');\n"
            "export const Probe = async () => ({});\n"
        )
        command = ["sh", "-c", f"echo ran >> {mcp_ran}"]
        (path / "opencode.json").write_text(
            json.dumps({"mcp": {"probe": {"type": "local", "command": command}}})
        )
        found = Foreign(path, plugin_ran, mcp_ran)
        self.made.append(found)
        return found


def opencode_log(oc: Opencode) -> str:
    """opencode's own log (its XDG data folder): it names each folder it loads."""
    folder = oc.home / ".local" / "share" / "opencode" / "log"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.log")))


def project_worktrees(oc: Opencode) -> set[str]:
    status, _, raw = request(oc.url, path="/project", headers={"Authorization": oc.authorization})
    assert status == 200, raw[:200]
    return {str(p["worktree"]) for p in json.loads(raw)}


def send(oc: Opencode, method: str, target: str, headers: dict[str, str]) -> int | str:
    """Sends one request straight to opencode; an event stream is left after its
    head (or after a second, if it sends none until an event)."""
    host, port = urllib.parse.urlsplit(oc.url).netloc.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        all_headers = {"Authorization": oc.authorization, **headers}
        body = None
        if method in ("POST", "PUT", "PATCH"):
            body = REFUSED_BODY
            all_headers["Content-Type"] = "application/json"
        conn.request(method, target, body=body, headers=all_headers)
        if target.split("?")[0].endswith("/event") and conn.sock is not None:
            conn.sock.settimeout(1.0)
        try:
            response = conn.getresponse()
        except TimeoutError:
            return "stream"
        if "event-stream" in (response.getheader("content-type") or ""):
            return response.status
        response.read()
        return response.status
    finally:
        conn.close()


def with_folder(target: str, how: str, folder: Path) -> tuple[str, dict[str, str]]:
    quoted = urllib.parse.quote(str(folder), safe="/")
    joiner = "&" if "?" in target else "?"
    if how == "query":
        return f"{target}{joiner}directory={quoted}", {}
    if how == "location":
        return f"{target}{joiner}location[directory]={quoted}", {}
    return target, {"x-opencode-directory": str(folder)}


def concrete(rule: Rule, params: dict[str, str]) -> str:
    path = re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), "oat_probe_1"), rule.path)
    return path.replace("*", "index-oat-probe.js")


def rows(directory: DirectoryFrom, keep: Callable[[Rule], bool] = lambda r: True) -> list[Rule]:
    return [r for r in default_policy() if r.directory is directory and keep(r)]


def probe(
    oc: Opencode, folders: Folders, chosen: list[Rule], params: dict[str, str]
) -> tuple[dict[str, list[tuple[str, Foreign]]], list[str]]:
    """Each row, once per way of naming a folder, each time a fresh folder."""
    sent: dict[str, list[tuple[str, Foreign]]] = {}
    harmful: list[str] = []
    for rule in chosen:
        for how in INPUTS:
            folder = folders.new()
            target, headers = with_folder(concrete(rule, params), how, folder.path)
            status = send(oc, rule.method, target, headers)
            sent.setdefault(rule.name, []).append((how, folder))
            if rule.name in MUST_REFUSE_BODY and status != 400:
                harmful.append(f"{rule.name} ({how}): {status}, not a refused body")
    return sent, harmful


def loaded(oc: Opencode, folders: Folders, sent: dict[str, list[tuple[str, Foreign]]]) -> list[str]:
    time.sleep(1.5)  # a folder being loaded would have logged and run its plugin by now
    log = opencode_log(oc)
    found = [
        f"{name} ({how}): {', '.join(traces)}"
        for name, tries in sent.items()
        for how, folder in tries
        if (traces := folder.traces(log))
    ]
    found += [
        f"a project appeared for {w}"
        for w in project_worktrees(oc)
        if w.startswith(f"{folders.parent}/")
    ]
    return found


def test_rows_with_no_directory_never_load_a_foreign_folder(own_opencode: Opencode) -> None:
    oc = own_opencode
    folders = Folders(oc, "foreign-none")
    chosen = rows(DirectoryFrom.NONE) + rows(
        DirectoryFrom.WEBAPP, lambda r: r.name in WEBAPP_SAMPLE
    )
    assert len(chosen) >= 15
    sent, harmful = probe(oc, folders, chosen, {"providerID": "oat-probe"})
    assert harmful == []
    found = loaded(oc, folders, sent)
    assert not found, "opencode loaded a folder a `none` row named:\n" + "\n".join(found)
    assert len(folders.made) == 3 * len(chosen)


def test_session_rows_work_in_the_sessions_directory_only(own_opencode: Opencode) -> None:
    """A real session in opencode's project: its routes run in that project whatever
    folder the request names."""
    oc = own_opencode
    status, _, raw = request(oc.url, "POST", "/session", {"Authorization": oc.authorization}, b"{}")
    assert status == 200, raw[:200]
    session = json.loads(raw)
    assert session["directory"] == str(oc.project)
    folders = Folders(oc, "foreign-session")
    chosen = rows(DirectoryFrom.SESSION)
    assert len(chosen) >= 20
    sent, harmful = probe(oc, folders, chosen, {"sessionID": session["id"]})
    assert harmful == []
    found = loaded(oc, folders, sent)
    assert not found, "opencode loaded a folder a `session` row named:\n" + "\n".join(found)


def test_two_folders_made_at_once_are_two_projects(tmp_path: Path) -> None:
    """opencode names a project by its root commit: folders made in the same second
    must not share one, or the control below looks for a project that is another's."""
    first, second = tmp_path / "a", tmp_path / "b"
    git_repository(first)
    git_repository(second)
    roots = [
        subprocess.run(
            ["git", "-C", str(f), "rev-list", "--max-parents=0", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for f in (first, second)
    ]
    assert roots[0] != roots[1]


def wait_for(what: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.1)
    return what()


@pytest.mark.parametrize(
    ("method", "target", "how"),
    [
        ("GET", "/file?path=.", "query"),  # an instance route: a folder loads, lazily its plugin
        ("GET", "/file?path=.", "header"),
        ("GET", "/api/fs/list", "location"),  # a location route: loads with its plugins
        ("GET", "/api/fs/list", "header"),
        ("POST", "/api/pty", "location"),  # a refused body: the folder was loaded first
        ("GET", "/api/permission/saved", "location"),  # `none` until this test found it
    ],
)
def test_the_probe_sees_a_folder_that_is_loaded(
    own_opencode: Opencode, method: str, target: str, how: str
) -> None:
    """The control: rows that do use a directory load the foreign folder, and each
    sign the tests above look for appears."""
    oc = own_opencode
    folders = Folders(oc, f"foreign-control-{secrets.token_hex(4)}")
    folder = folders.new()
    target, headers = with_folder(target, how, folder.path)
    status = send(oc, method, target, headers)
    assert status == (400 if method == "POST" else 200), (target, status)
    assert wait_for(folder.plugin_ran.exists), "the folder's plugin did not run"
    assert wait_for(lambda: "opencode's log names it" in folder.traces(opencode_log(oc)))
    if not target.startswith("/api/"):
        # an instance registers the folder's project (a location does not)
        assert wait_for(lambda: str(folder.path) in project_worktrees(oc))
    assert not folder.mcp_ran.exists()  # started once something asks for the MCP servers


def test_the_probe_sees_an_mcp_command_and_a_refused_body(own_opencode: Opencode) -> None:
    """An instance route with a body opencode refuses still loads the folder, and its
    MCP command runs once the MCP servers are asked for."""
    oc = own_opencode
    folders = Folders(oc, "foreign-control-mcp")
    first, second = folders.new(), folders.new()
    target, headers = with_folder("/mcp", "query", first.path)
    assert send(oc, "POST", target, headers) == 400
    assert wait_for(lambda: "opencode's log names it" in first.traces(opencode_log(oc)))
    target, headers = with_folder("/mcp", "query", second.path)
    assert send(oc, "GET", target, headers) == 200
    assert wait_for(second.mcp_ran.exists), "the folder's MCP command did not run"
