"""The security review, replayed against a real opencode 1.18.33: each attack with the
lesser token is refused and nothing happens - no file, no config or credential
change, no secret in any answer - through the gateway and through nginx +
forward-auth. Then the same kinds of action with a full token in scope still work:
the policy is no blanket denial.

opencode here holds a provider key in its credentials file and another in its
environment, and there is a folder outside its project whose opencode.json would
start a command (real_servers.start_opencode). State is compared, before and
after, by asking opencode directly with its own password and by looking at the
files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.model.permissions import Permission
from core.store import TokenStore
from tests.gateway import processes
from tests.gateway.conftest import Tokens
from tests.gateway.real_servers import (
    README_TEXT,
    Nginx,
    Opencode,
    RunningGateway,
    missing,
    request,
)

pytestmark = pytest.mark.opencode


@dataclass
class Front:
    name: str
    url: str

    def call(
        self,
        method: str,
        target: str,
        token: str | None = None,
        body: object = None,
        headers: dict[str, str] | None = None,
        scheme: str = "Bearer",
    ) -> tuple[int, bytes]:
        all_headers = dict(headers or {})
        if token is not None:
            if scheme == "Basic":
                value = base64.b64encode(f"opencode:{token}".encode()).decode()
                all_headers["Authorization"] = f"Basic {value}"
            else:
                all_headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
        elif method in ("POST", "PUT", "PATCH"):
            data = b"{}"
        status, _, raw = request(self.url, method, target, all_headers, data, timeout=20)
        return status, raw


@pytest.fixture(params=["gateway", "nginx"])
def front(
    request: pytest.FixtureRequest, opencode: Opencode, opencode_gateway: RunningGateway
) -> Front:
    if request.param == "gateway":
        return Front("gateway", opencode_gateway.url)
    nginx: Nginx = request.getfixturevalue("nginx_front")
    if nginx.upstream_kind != "opencode":
        missing("nginx runs in front of the fake opencode here (opencode is not installed)")
    return Front("nginx", nginx.url)


def direct(opencode: Opencode, method: str, target: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    status, _, raw = request(
        opencode.url, method, target, {"Authorization": opencode.authorization}, data, timeout=20
    )
    assert status == 200, (target, status, raw[:300])
    return json.loads(raw)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".git" not in p.parts)


def state(opencode: Opencode) -> dict[str, object]:
    """What an attack could change, as opencode and the disk say."""
    project, outside, home = opencode.project, opencode.outside, opencode.home
    return {
        "config": direct(opencode, "GET", "/config"),
        "global config": direct(opencode, "GET", "/global/config"),
        "mcp": direct(opencode, "GET", "/mcp"),
        "worktrees": direct(opencode, "GET", "/experimental/worktree"),
        "projects": [p["id"] for p in direct(opencode, "GET", "/project")],  # type: ignore[attr-defined]
        "sessions": [s["id"] for s in direct(opencode, "GET", "/session")],  # type: ignore[attr-defined]
        "auth.json": digest(home / ".local/share/opencode/auth.json"),
        "global config files": {
            name: digest(home / ".config/opencode" / name)
            for name in ("opencode.json", "opencode.jsonc", "config.json")
        },
        "project files": files_under(project),
        "outside files": files_under(outside),
        "markers": sorted(p.name for p in home.glob("*marker*")),
        "outside mcp ran": (home / "outside-mcp-ran").exists(),
    }


def mcp_command(marker: Path) -> dict[str, object]:
    return {"type": "local", "command": ["sh", "-c", f"echo ran > {marker}"]}


# --- the attacks -------------------------------------------------------------------------


def attacks(oc: Opencode, project_id: str) -> list[tuple[str, str, str, object, dict[str, str]]]:
    """(token, method, target, body, headers): every one must be refused."""
    marker = oc.home / "attack-marker"
    outside = urllib.parse.quote(str(oc.outside), safe="")
    project = urllib.parse.quote(str(oc.project), safe="")
    patch = "diff --git a/opencode.json b/opencode.json\nnew file mode 100644\n"
    return [
        # a write-only token must not run or plant commands
        ("w", "POST", "/mcp", {"name": "evil", "config": mcp_command(marker)}, {}),
        ("w", "POST", "/mcp/probe/connect", None, {}),
        ("w", "PATCH", "/config", {"mcp": {"evil": mcp_command(marker)}}, {}),
        ("w", "POST", "/pty", {"command": "sh", "args": ["-c", f"touch {marker}"]}, {}),
        ("w", "POST", "/session", None, {}),
        ("w", "POST", "/instance/dispose", None, {}),
        ("w", "POST", "/global/dispose", None, {}),
        ("w", "POST", "/global/upgrade", {"target": "1.0.0"}, {}),
        # read + write: nothing that changes what runs, or which credentials
        ("rw", "PATCH", "/global/config", {"mcp": {"evil": mcp_command(marker)}}, {}),
        ("rw", "PATCH", "/config", {"mcp": {"evil": mcp_command(marker)}}, {}),
        (
            "rw",
            "POST",
            "/experimental/worktree",
            {"name": "evil", "startCommand": f"touch {marker}"},
            {},
        ),
        ("rw", "DELETE", "/experimental/worktree", {"directory": str(oc.project)}, {}),
        ("rw", "PATCH", f"/project/{project_id}", {"commands": {"start": f"touch {marker}"}}, {}),
        ("rw", "POST", "/vcs/apply", {"patch": patch}, {}),
        ("rw", "PUT", "/auth/openai", {"type": "api", "key": "sk-attacker"}, {}),
        ("rw", "DELETE", "/auth/anthropic", None, {}),
        ("rw", "POST", "/provider/openai/oauth/authorize", {"method": 0}, {}),
        ("rw", "POST", "/api/integration/openai/connect/key", {"key": "sk-attacker"}, {}),
        ("rw", "POST", "/tui/submit-prompt", None, {}),
        ("rw", "POST", "/tui/execute-command", {"command": "session.new"}, {}),
        ("rw", "POST", "/experimental/workspace", {"type": "worktree"}, {}),
        ("rw", "POST", "/experimental/console/switch", {"accountID": "a", "orgID": "o"}, {}),
        ("rw", "POST", "/permission/per_1/reply", {"reply": "always"}, {}),
        ("rw", "POST", "/question/que_1/reply", {"answers": []}, {}),
        ("rw", "POST", "/sync/replay", {"events": []}, {}),
        ("rw", "POST", f"/project/git/init?directory={outside}", None, {}),
        (
            "rw",
            "POST",
            f"/log?directory={outside}",
            {"service": "x", "level": "info", "message": "m"},
            {},
        ),
        # a read token reads the project, nothing else on the host
        ("r", "GET", "/file/content?directory=/etc&path=passwd", None, {}),
        ("r", "GET", "/file/content?path=passwd", None, {"x-opencode-directory": "/etc"}),
        ("r", "GET", "/file/content?path=passwd", None, {"x-opencode-directory": "%2Fetc"}),
        ("r", "GET", "/file/content?directory=%252Fetc&path=passwd", None, {}),
        ("r", "GET", "/file/content?directory=/proc/self&path=environ", None, {}),
        ("r", "GET", "/file?directory=/&path=.", None, {}),
        ("r", "GET", f"/file/content?directory={outside}&path=secret.txt", None, {}),
        ("r", "GET", f"/file/content?directory={project}/../outside&path=secret.txt", None, {}),
        ("r", "GET", f"/file/content?directory={project}/etc-link&path=passwd", None, {}),
        ("r", "GET", "/file/content?path=../../../../../etc/passwd", None, {}),
        ("r", "GET", "/find/file?directory=/etc&query=passwd", None, {}),
        ("r", "GET", "/find?directory=/etc&pattern=root", None, {}),
        ("r", "GET", "/api/fs/read/passwd?location[directory]=/etc", None, {}),
        ("r", "GET", "/api/fs/read/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", None, {}),
        ("r", "GET", "/api/fs/list?location%5Bdirectory%5D=%2F", None, {}),
        ("r", "GET", f"/mcp?directory={outside}", None, {}),
        ("r", "GET", f"/experimental/tool/ids?directory={outside}", None, {}),
        ("r", "GET", "/file?directory=/etc&directory=/tmp", None, {}),
        ("r", "GET", "/file?directory=relative/dir", None, {}),
        ("r", "GET", "/file?workspace=wrk_abc", None, {}),
        # routes the policy once said use no directory: opencode loads the one they name
        ("r", "GET", f"/project?directory={outside}", None, {}),
        ("r", "GET", "/project", None, {"x-opencode-directory": str(oc.outside)}),
        ("r", "GET", f"/project/{project_id}/directories?directory={outside}", None, {}),
        ("rx", "GET", f"/api/permission/saved?location[directory]={outside}", None, {}),
        ("rx", "GET", "/api/permission/saved", None, {"x-opencode-directory": str(oc.outside)}),
        ("wx", "DELETE", f"/api/permission/saved/x?location%5Bdirectory%5D={outside}", None, {}),
        # ... and never credentials, config or session content
        ("r", "GET", "/config/providers", None, {}),
        ("r", "GET", "/CONFIG/PROVIDERS", None, {}),
        ("r", "GET", "/config/providers;x", None, {}),
        ("r", "GET", "/Config/Providers/", None, {}),
        ("r", "GET", "/provider", None, {}),
        ("r", "GET", "/provider;x", None, {}),
        ("r", "GET", "//provider", None, {}),
        ("r", "GET", "/config", None, {}),
        ("r", "GET", "/config;x/providers", None, {}),
        ("r", "GET", "/global/config", None, {}),
        ("r", "GET", "/api/provider", None, {}),
        ("r", "GET", "/api/integration", None, {}),
        ("r", "GET", "/experimental/console", None, {}),
        ("r", "GET", "/experimental/resource", None, {}),
        ("r", "GET", "/event", None, {}),
        ("r", "GET", "/global/event", None, {}),
        ("r", "GET", "/api/event", None, {}),
        ("r", "GET", "/session", None, {}),
        ("r", "GET", "/api/session", None, {}),
        ("r", "GET", "/question", None, {}),
        ("r", "GET", "/permission", None, {}),
        ("r", "GET", "/pty", None, {}),
        ("r", "GET", "/doc/../config", None, {}),
        # read + execute may look at sessions, not run or change anything
        ("rx", "POST", "/mcp", {"name": "evil", "config": mcp_command(marker)}, {}),
        # a header naming another method than the one decided on
        ("rx", "GET", "/session", None, {"X-HTTP-Method-Override": "POST"}),
        ("rx", "GET", "/mcp", None, {"X-HTTP-Method": "POST"}),
        ("r", "GET", "/file", None, {"X-Method-Override": "DELETE"}),
        ("rx", "GET", "/file/content?directory=/etc&path=passwd", None, {}),
    ]


def test_every_attack_is_refused_and_nothing_happens(
    front: Front, opencode: Opencode, real_tokens: Tokens
) -> None:
    (opencode.project / "etc-link").unlink(missing_ok=True)
    (opencode.project / "etc-link").symlink_to("/etc")
    project_id = direct(opencode, "GET", "/project/current")["id"]  # type: ignore[index]
    before = state(opencode)
    accepted: list[str] = []
    leaked: list[str] = []
    for token, method, target, body, headers in attacks(opencode, project_id):
        status, raw = front.call(method, target, real_tokens.secrets[token], body, headers)
        refused = status in (400, 401, 403)
        if not refused:
            accepted.append(f"{token} {method} {target}: {status} {raw[:120]!r}")
        text = raw.decode(errors="replace")
        for secret in (*opencode.canaries, "root:x:0:0", "outside the project"):
            if secret in text:
                leaked.append(f"{token} {method} {target}: the answer holds {secret[:12]}…")
    time.sleep(1.5)  # a command started anyway would have written its marker by now
    after = state(opencode)
    assert accepted == []
    assert leaked == []
    assert after == before


def test_opencode_itself_takes_no_method_override(opencode: Opencode) -> None:
    """Why refusing the override headers loses nothing: opencode 1.18.33 reads the
    method of the request line only. A GET naming POST lists sessions, makes none."""
    before = direct(opencode, "GET", "/session")
    for name in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        status, _, raw = request(
            opencode.url,
            "GET",
            "/session",
            {"Authorization": opencode.authorization, name: "POST"},
            timeout=20,
        )
        assert (status, json.loads(raw)) == (200, before), name
    assert direct(opencode, "GET", "/session") == before


# nginx decodes the path itself and answers a `..` above the root with its own 400
# page, before any location (so before forward-auth) is asked.
NGINX_REFUSES_ITSELF = {"/api/fs/read/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd"}


def test_nginx_refuses_each_attack_as_the_gateway_does(
    request: pytest.FixtureRequest,
    opencode: Opencode,
    opencode_gateway: RunningGateway,
    real_tokens: Tokens,
) -> None:
    """Behind nginx + forward-auth a refusal is the gateway's: the same status and the
    same JSON body (forward-auth's, through X-Auth-Error), never nginx's HTML page."""
    nginx: Nginx = request.getfixturevalue("nginx_front")
    if nginx.upstream_kind != "opencode":
        missing("nginx runs in front of the fake opencode here (opencode is not installed)")
    gateway = Front("gateway", opencode_gateway.url)
    behind = Front("nginx", nginx.url)
    (opencode.project / "etc-link").unlink(missing_ok=True)
    (opencode.project / "etc-link").symlink_to("/etc")
    project_id = direct(opencode, "GET", "/project/current")["id"]  # type: ignore[index]
    differ: list[str] = []
    for token, method, target, body, headers in attacks(opencode, project_id):
        secret = real_tokens.secrets[token]
        want = gateway.call(method, target, secret, body, headers)
        got = behind.call(method, target, secret, body, headers)
        assert want[0] in (400, 401, 403) and json.loads(want[1])["message"], target
        if target in NGINX_REFUSES_ITSELF:
            assert got[0] == 400 and b"<title>400 Bad Request</title>" in got[1], got
            continue
        if got[0] != want[0] or _json_or_text(got[1]) != json.loads(want[1]):
            differ.append(f"{token} {method} {target}: {got[0]} {got[1][:160]!r}, not {want}")
    assert differ == []


def _json_or_text(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def test_the_same_tokens_through_basic_credentials(
    front: Front, opencode: Opencode, real_tokens: Tokens
) -> None:
    """`opencode attach -p` and browsers send Basic: the same decisions."""
    read = real_tokens.secrets["r"]
    status, raw = front.call("GET", "/file/content?path=README.md", read, scheme="Basic")
    assert status == 200 and json.loads(raw)["content"].strip() == README_TEXT.strip()
    assert front.call("GET", "/config/providers", read, scheme="Basic")[0] == 403
    # opencode's own password is no token: refused, never passed on
    assert front.call("GET", "/path", opencode.password, scheme="Basic")[0] == 401


def test_a_token_limited_to_a_directory_stays_there(
    front: Front, opencode: Opencode, real_tokens: Tokens
) -> None:
    (opencode.project / "docs").mkdir(exist_ok=True)
    (opencode.project / "docs" / "guide.md").write_text("the guide\n")
    store = TokenStore(real_tokens.path)
    issued = store.create(
        name=f"docs-only-{front.name}",
        permissions="read",
        directories=[str(opencode.project / "docs")],
    )
    token = issued.secret.reveal()
    docs = urllib.parse.quote(str(opencode.project / "docs"), safe="")
    status, raw = front.call("GET", f"/file/content?directory={docs}&path=guide.md", token)
    assert status == 200 and json.loads(raw)["content"].strip() == "the guide"
    # opencode's own directory (no parameter) is outside the token's
    assert front.call("GET", "/file/content?path=README.md", token)[0] == 403
    project = urllib.parse.quote(str(opencode.project), safe="")
    assert front.call("GET", f"/file/content?directory={project}&path=README.md", token)[0] == 403


def test_no_read_route_reveals_a_secret(
    opencode: Opencode, opencode_gateway: RunningGateway, real_tokens: Tokens
) -> None:
    """Every operation the policy gives a read token, called with it: no answer
    holds a provider key or opencode's password."""
    from core.authz.policy import default_policy

    gw = Front("gateway", opencode_gateway.url)
    read = real_tokens.secrets["r"]
    leaks: list[str] = []
    called = 0
    for rule in default_policy():
        if rule.needs != {Permission.READ}:
            continue
        target = rule.path.replace("{projectID}", "global").replace("*", "README.md")
        target = target.replace("{", "").replace("}", "")
        if rule.path == "/api/fs/read/*":
            target += f"?location[directory]={urllib.parse.quote(str(opencode.project))}"
        status, raw = gw.call("GET", target, read)
        called += 1
        text = raw.decode(errors="replace")
        for secret in opencode.canaries:
            if secret in text:
                leaks.append(f"{rule.name} ({status})")
    assert called > 40  # every read row (43 on opencode 1.18.33): the loop ran
    assert leaks == []


def test_protected_paths_inside_a_served_directory(opencode: Opencode, tmp_path: Path) -> None:
    """A gateway serving opencode's whole HOME: the token store (with its lock and
    PR #8217 backup) and opencode's credentials there are still never served."""
    store_path = opencode.home / ".config" / "opencode" / "auth-tokens.json"
    store = TokenStore(store_path)
    read = store.create(name="reader", permissions="read").secret.reveal()
    rx = store.create(name="searcher", permissions="read,execute").secret.reveal()
    backup = store_path.with_name("auth-tokens.json.pr8217-backup-20260101T000000Z")
    backup.write_text('[{"token": "plain-text-legacy-secret"}]')
    backup.chmod(0o600)
    home = urllib.parse.quote(str(opencode.home), safe="")
    child = processes.gateway(
        store_path, opencode.url, "--directory", str(opencode.home), password=opencode.password
    )
    try:
        gw = Front("gateway", child.listening_url())
        child.wait_for("serving the directories")
        child.wait_for("which is never served")  # the warning at start
        for token, target in (
            (read, f"/file/content?directory={home}&path=.config/opencode/auth-tokens.json"),
            (read, f"/file/content?directory={home}&path=.config/opencode/auth-tokens.json.lock"),
            (read, f"/file/content?directory={home}&path=.config/opencode/{backup.name}"),
            (read, f"/file/content?directory={home}&path=.local/share/opencode/auth.json"),
            (rx, f"/file/content?directory={home}&path=.local/share/opencode/auth.json"),
            (read, f"/file?directory={home}/.config/opencode"),
            (rx, f"/find?directory={home}&pattern=plain-text-legacy"),  # a search needs rx
            (read, f"/find/file?directory={home}&query=auth"),
            (read, f"/api/fs/read/.local/share/opencode/auth.json?location[directory]={home}"),
        ):
            status, raw = gw.call("GET", target, token)
            assert status == 403, (target, status, raw[:200])
            assert json.loads(raw)["error"] == "protected_path", target
            assert (
                b"plain-text-legacy-secret" not in raw and opencode.canaries[2].encode() not in raw
            )
        # the rest of HOME is served
        status, raw = gw.call("GET", f"/file/content?directory={home}&path=project/README.md", read)
        assert status == 200 and json.loads(raw)["content"].strip() == README_TEXT.strip()
    finally:
        child.stop()


def test_a_pty_ticket_is_decided_with_the_token_that_asked_for_it(
    opencode: Opencode, opencode_gateway: RunningGateway, real_tokens: Tokens
) -> None:
    """The web app's terminal: connect-token (authenticated), then a WebSocket with
    only the ticket - accepted as that token, refused once the token is gone."""
    import asyncio

    import aiohttp

    gw = opencode_gateway.url
    store = TokenStore(real_tokens.path)
    issued = store.create(name="terminal", permissions="read,write,execute")
    bearer = {"Authorization": f"Bearer {issued.secret.reveal()}"}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{gw}/pty", json={"command": "/bin/sh"}, headers=bearer) as r:
                assert r.status == 200, await r.text()
                pty = (await r.json())["id"]

            async def ticket() -> str:
                async with s.post(
                    f"{gw}/pty/{pty}/connect-token", headers={**bearer, "x-opencode-ticket": "1"}
                ) as r:
                    assert r.status == 200, await r.text()
                    return str((await r.json())["ticket"])

            first = await ticket()
            async with s.ws_connect(f"{gw}/pty/{pty}/connect?ticket={first}") as ws:
                await ws.send_str("echo ticket-$((6*7))\n")
                seen = ""
                while "ticket-42" not in seen:
                    msg = await asyncio.wait_for(ws.receive(), 10)
                    assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
                    seen += msg.data if isinstance(msg.data, str) else msg.data.decode("latin-1")
            # used once: the same ticket again, without credentials, is refused
            with pytest.raises(aiohttp.WSServerHandshakeError) as again:
                await s.ws_connect(f"{gw}/pty/{pty}/connect?ticket={first}")
            assert again.value.status == 401
            # a ticket asked for by a token revoked since is refused
            second = await ticket()
            store.delete([issued.record.id])
            with pytest.raises(aiohttp.WSServerHandshakeError) as revoked:
                await s.ws_connect(f"{gw}/pty/{pty}/connect?ticket={second}")
            assert revoked.value.status == 401

    asyncio.run(scenario())

    def connects_in(lines: list[str]) -> list[dict[str, object]]:
        log = [json.loads(line) for line in lines if '"/pty/' in line]
        return [x for x in log if str(x["path"]).endswith("/connect") and x["status"] == 101]

    connects = connects_in(opencode_gateway.child.lines_once(lambda ls: bool(connects_in(ls))))
    assert connects and connects[-1]["token_id"] == issued.record.id


def test_a_browser_page_of_another_site_cannot_act_with_the_users_token(
    front: Front, opencode: Opencode, real_tokens: Tokens
) -> None:
    """A browser given the token as a Basic password sends it to this origin also
    when another site's page asks; body-less POSTs would pass opencode's own checks."""
    token = real_tokens.secrets["rwx"]
    before = direct(opencode, "GET", "/session")
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        status, _ = front.call("POST", "/session", token, headers=headers, scheme="Basic")
        assert status == 403, headers
    assert direct(opencode, "GET", "/session") == before
    # the web app itself (same origin) and programs (no Origin) are fine
    host = urllib.parse.urlsplit(front.url).netloc
    status, _ = front.call(
        "POST",
        "/log",
        token,
        {"service": "t", "level": "info", "message": "same origin"},
        headers={"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"},
    )
    assert status == 200


# --- opencode's config files: read needs execute too ------------------------------------

CONFIG_KEY = "sk-oat-config-canary-" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:12]


@pytest.fixture
def key_in_config(opencode: Opencode) -> Iterator[Path]:
    """A provider key written into the project's config file the way `PATCH /config`
    writes it (directly to opencode, with its password), and a link to that file;
    both are put back as they were afterwards."""
    written = opencode.project / "config.json"
    before = written.read_bytes() if written.exists() else None
    link = opencode.project / "notes-link.txt"
    try:
        direct(
            opencode, "PATCH", "/config", {"provider": {"oat": {"options": {"apiKey": CONFIG_KEY}}}}
        )
        assert CONFIG_KEY in written.read_text()
        link.unlink(missing_ok=True)
        link.symlink_to("config.json")
        yield written
    finally:
        link.unlink(missing_ok=True)
        if before is None:
            written.unlink(missing_ok=True)
        else:
            written.write_bytes(before)


# Every route that returns a file's bytes, a diff or lines of files, aimed at the file.
CONFIG_READS = [
    "/file/content?path=config.json",
    "/file/content?path=CONFIG.JSON",
    "/file/content?path=./config.json",
    "/file/content?path=docs%2F..%2Fconfig.json",
    "/file/content?path=config%2Ejson",
    "/file/content?path=notes-link.txt",
    "/api/fs/read/config.json",
    "/api/fs/read/Config.Json",
    "/api/fs/read/config%2Ejson",
    "/api/fs/read/notes-link.txt",
    "/vcs/diff?mode=git",
    "/vcs/diff/raw",
    f"/find?pattern={CONFIG_KEY}",
]


def test_a_read_token_never_reads_what_patch_config_wrote(
    front: Front, opencode: Opencode, real_tokens: Tokens, key_in_config: Path
) -> None:
    read, rx = real_tokens.secrets["r"], real_tokens.secrets["rx"]
    leaked, passed = [], []
    for target in CONFIG_READS:
        status, raw = front.call("GET", target, read)
        if CONFIG_KEY.encode() in raw:
            leaked.append(target)
        answer = json.loads(raw) if status == 403 else {}
        if status != 403 or answer.get("error") != "insufficient_scope":
            passed.append(f"{target}: {status} {raw[:120]!r}")
        elif "API keys" not in answer["message"] or answer["required"] != ["read", "execute"]:
            passed.append(f"{target}: says {answer}")
    assert leaked == []
    assert passed == []
    # with execute too, the same file is read: the legitimate use
    for target in (
        "/file/content?path=config.json",
        "/file/content?path=notes-link.txt",
        "/api/fs/read/config.json",
        "/vcs/diff?mode=git",
        "/vcs/diff/raw",
    ):
        status, raw = front.call("GET", target, rx)
        assert status == 200 and CONFIG_KEY.encode() in raw, (target, status, raw[:200])
    status, _ = front.call("GET", f"/find?pattern={CONFIG_KEY}", rx)
    assert status not in (401, 403)  # passed on (this opencode may lack ripgrep: its answer)
    # and read alone still reads the project's other files
    status, raw = front.call("GET", "/file/content?path=README.md", read)
    assert status == 200 and json.loads(raw)["content"].strip() == README_TEXT.strip()


# --- the full tokens still do the legitimate thing (these change state: last) -----------


def test_full_tokens_still_work(front: Front, opencode: Opencode, real_tokens: Tokens) -> None:
    marker = opencode.home / f"allowed-mcp-{front.name}-marker"
    rwx, read, write, rx = (real_tokens.secrets[k] for k in ("rwx", "r", "w", "rx"))
    # a read token reads a file of the project
    status, raw = front.call("GET", "/file/content?path=README.md", read)
    assert status == 200 and json.loads(raw)["content"].strip() == README_TEXT.strip()
    status, raw = front.call("GET", "/find/file?query=README", read)
    assert status == 200 and "README.md" in json.loads(raw)
    # a write token writes a log line
    assert (
        front.call("POST", "/log", write, {"service": "t", "level": "info", "message": "m"})[0]
        == 200
    )
    # read + execute lists sessions
    assert front.call("GET", "/session", rx)[0] == 200
    # an rwx token changes the config, and adds an MCP server that runs
    assert front.call("PATCH", "/config", rwx, {"username": f"changed-{front.name}"})[0] == 200
    written = json.loads((opencode.project / "config.json").read_text())
    assert written["username"] == f"changed-{front.name}"
    name = f"allowed-{front.name}"
    status, raw = front.call("POST", "/mcp", rwx, {"name": name, "config": mcp_command(marker)})
    assert status == 200, raw[:300]
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the MCP command an rwx token added did not run"
    assert name in direct(opencode, "GET", "/mcp")  # type: ignore[operator]


@pytest.fixture(scope="module", autouse=True)
def _no_stray_commands(opencode: Opencode) -> Iterator[None]:
    yield
    for marker in opencode.home.glob("*marker*"):
        marker.unlink(missing_ok=True)
