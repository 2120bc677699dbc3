"""What reaches opencode is what was decided, and what comes back cannot run as a
page - through the gateway, nginx + forward-auth and Caddy + forward-auth, in front
of the real opencode 1.18.33.

- A hop-by-hop trick (`Connection: close, x-opencode-directory`) cannot take a
  header away after the decision: a token limited to one folder never reads
  opencode's own directory by sending that folder and asking for it to be dropped.
- Every answer of opencode's API carries the sandbox (CSP, nosniff; raw file bytes
  as an attachment), the web app's pages only `frame-ancestors 'self'`.
- A terminal's WebSocket is a handshake to forward-auth whatever its subrequest
  carries: a page of another origin cannot open one with the browser's saved
  credentials, and the `bearer, <token>` subprotocol works through the proxies,
  without the token reaching opencode.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

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

SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'"
EVIL_HTML = "<html><body><script>document.title='ran'</script>evil</body></html>\n"


@dataclass
class Front:
    name: str
    url: str

    def get(
        self, target: str, secret: str | None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if secret is not None:
            sent["Authorization"] = f"Bearer {secret}"
        return request(self.url, "GET", target, sent, timeout=20)


@pytest.fixture(params=["gateway", "nginx", "caddy"])
def front(request: pytest.FixtureRequest, opencode_gateway: RunningGateway) -> Front:
    if request.param == "gateway":
        return Front("gateway", opencode_gateway.url)
    proxy: Nginx = request.getfixturevalue(f"{request.param}_front")
    if proxy.upstream_kind != "opencode":
        missing(f"{request.param} runs in front of the fake opencode here")
    return Front(request.param, proxy.url)


@pytest.fixture(scope="module")
def scoped(opencode: Opencode, real_tokens: Tokens) -> Iterator[dict[str, str]]:
    """Read tokens limited to the project and to the folder outside it."""
    store = TokenStore(real_tokens.path)
    made = {
        "project": store.create(
            name="only-project", permissions="read", directories=[str(opencode.project)]
        ),
        "outside": store.create(
            name="only-outside", permissions="read", directories=[str(opencode.outside)]
        ),
    }
    yield {where: issued.secret.reveal() for where, issued in made.items()}
    store.delete([issued.record.id for issued in made.values()])


# --- the request decided is the request forwarded ------------------------------------


@pytest.fixture(scope="module")
def both_roots(opencode: Opencode, real_tokens: Tokens) -> Iterator[dict[str, str]]:
    """The gateway, nginx and Caddy serving the project AND the folder outside it, so
    that only the token's own directories stand between a token limited to
    `outside` and the project - the situation the hop-by-hop trick exploited."""
    from tests.gateway.real_servers import find_caddy, find_nginx, start_caddy, start_nginx

    roots = [arg for d in (opencode.project, opencode.outside) for arg in ("--directory", str(d))]
    gateway = processes.gateway(real_tokens.path, opencode.url, *roots, password=opencode.password)
    forward = processes.forward_auth(
        real_tokens.path,
        upstream=opencode.url,
        directories=[str(opencode.project), str(opencode.outside)],
        password=opencode.password,
    )
    proxies = []
    try:
        urls = {"gateway": gateway.listening_url()}
        gateway.wait_for("serving the directories")
        forward.wait_for("serving the directories")
        for name, find, start in (
            ("nginx", find_nginx, start_nginx),
            ("caddy", find_caddy, start_caddy),
        ):
            binary = find()
            if binary is None:
                missing(f"{name} is not installed: run .ci/install-nginx.sh")
            running = start(binary, opencode.url, forward.listening_url(), opencode.password)
            proxies.append(running)
            urls[name] = running.url
        yield urls
    finally:
        for running in proxies:
            running.stop()
        forward.stop()
        gateway.stop()


@pytest.mark.parametrize(
    "connection",
    [
        "close, x-opencode-directory",
        "x-opencode-directory",
        "keep-alive, X-OpenCode-Directory ,",
    ],
)
@pytest.mark.parametrize("name", ["gateway", "nginx", "caddy"])
def test_a_connection_header_cannot_drop_the_directory_the_decision_read(
    both_roots: dict[str, str],
    opencode: Opencode,
    scoped: dict[str, str],
    connection: str,
    name: str,
) -> None:
    """A token limited to `outside` names `outside` and asks for the header to be
    dropped, hoping opencode falls back to its own directory (the project)."""
    front = Front(name, both_roots[name])
    headers = {"x-opencode-directory": str(opencode.outside), "Connection": connection}
    status, _, body = front.get("/file/content?path=README.md", scoped["outside"], headers)
    assert README_TEXT.strip() not in body.decode(errors="replace"), (name, status)
    # Whatever the front did with the header, the decision and opencode agreed:
    # both saw `outside` (nginx passes a header its Connection names on: opencode
    # finds no README there), or neither did (the gateway, Caddy: the directory is
    # then opencode's own, which is not the token's).
    expected = 200 if name == "nginx" else 403
    assert status == expected, (name, status, body[:300])
    if status == 200:
        assert json.loads(body)["content"] == "", body[:300]  # outside has no README
    # the token still reads its own folder
    status, _, body = front.get(
        "/file/content?path=secret.txt",
        scoped["outside"],
        {"x-opencode-directory": str(opencode.outside)},
    )
    assert status == 200 and json.loads(body)["content"].strip() == "outside the project", name


def test_a_connection_header_cannot_drop_the_workspace_either(
    front: Front, opencode: Opencode, scoped: dict[str, str]
) -> None:
    headers = {"x-opencode-workspace": "wrk_1", "Connection": "x-opencode-workspace"}
    status, _, body = front.get("/file/content?path=README.md", scoped["project"], headers)
    # dropped before the decision (gateway, Caddy): an ordinary read of the project;
    # kept (nginx): refused, a workspace's directory cannot be checked
    if status == 200:
        assert json.loads(body)["content"].strip() == README_TEXT.strip()
    else:
        assert status == 403 and b"workspace" in body, (front.name, status, body[:300])


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("/\xff..", id="invalid-utf8"),  # http.client sends it as the byte 0xff
        pytest.param("/\u00e9/..", id="latin1-e-acute"),
        pytest.param("/\u00c3\u00a9/..", id="utf8-e-acute"),  # sent as the bytes c3 a9
    ],
)
@pytest.mark.parametrize("name", ["gateway", "nginx", "caddy"])
def test_bytes_beyond_ascii_cannot_hide_a_parent_in_the_directory_header(
    both_roots: dict[str, str],
    opencode: Opencode,
    scoped: dict[str, str],
    spelling: str,
    name: str,
) -> None:
    """A token limited to `outside` names `outside/<0xff>../project`: read as UTF-8
    that is a folder inside `outside`, but aiohttp's writer left the undecodable
    character out and opencode got `outside/../project` - the project. A raw byte
    beyond ASCII is read one way by the front and maybe another by opencode, so the
    directory header must be ASCII (clients percent-encode) and the gateway refuses
    any header that is not UTF-8. Refused, and opencode never answers."""
    front = Front(name, both_roots[name])
    directory = f"{opencode.outside}{spelling}/{opencode.project.name}"
    headers = {"x-opencode-directory": directory}
    status, _, body = front.get("/file/content?path=README.md", scoped["outside"], headers)
    assert README_TEXT.strip() not in body.decode(errors="replace"), (name, status)
    assert status == 400, (name, status, body[:300])
    # the gateway refuses a header that is not UTF-8 before deciding; forward-auth
    # (whose proxy forwards the bytes as they came) refuses the directory
    assert json.loads(body)["error"] in ("bad_request", "bad_directory"), (name, body[:300])
    # the same folder percent-encoded, as opencode's clients send it, is decided
    # on what opencode reads: a folder inside `outside` that does not exist
    encoded = urllib.parse.quote(directory, safe="/")
    status, _, body = front.get(
        "/file/content?path=README.md", scoped["outside"], {"x-opencode-directory": encoded}
    )
    assert README_TEXT.strip() not in body.decode(errors="replace"), (name, status)


def test_the_legitimate_read_still_works(
    front: Front, opencode: Opencode, scoped: dict[str, str]
) -> None:
    headers = {"x-opencode-directory": str(opencode.project)}
    status, _, body = front.get("/file/content?path=README.md", scoped["project"], headers)
    assert status == 200, (front.name, body[:300])
    assert json.loads(body)["content"].strip() == README_TEXT.strip()


# --- served content never runs on the front's origin --------------------------------


@pytest.fixture(scope="module")
def evil_file(opencode: Opencode) -> Iterator[str]:
    path = opencode.project / "evil-page.html"
    path.write_text(EVIL_HTML)
    yield path.name
    path.unlink(missing_ok=True)


def test_a_projects_file_is_served_sandboxed_and_as_an_attachment(
    front: Front, opencode: Opencode, real_tokens: Tokens, evil_file: str
) -> None:
    where = urllib.parse.quote(str(opencode.project), safe="")
    status, headers, body = front.get(
        f"/api/fs/read/{evil_file}?location%5Bdirectory%5D={where}", real_tokens.secrets["r"]
    )
    assert status == 200 and body.decode() == EVIL_HTML, (front.name, status, body[:200])
    assert headers["content-security-policy"] == SANDBOX, front.name
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"] == "attachment"


@pytest.mark.parametrize(
    "target",
    [
        "/file/content?path=README.md",
        "/file?path=.",
        "/vcs",
        "/global/health",
        "/find/file?query=README",
    ],
)
def test_every_api_answer_is_sandboxed(front: Front, real_tokens: Tokens, target: str) -> None:
    status, headers, _ = front.get(target, real_tokens.secrets["r"])
    assert status == 200, (front.name, target)
    assert headers["content-security-policy"] == SANDBOX, (front.name, target)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"] == "inline"


def test_the_web_app_itself_is_not_sandboxed(front: Front, real_tokens: Tokens) -> None:
    status, headers, body = front.get("/", real_tokens.secrets["rwx"])
    assert status == 200 and b"<html" in body.lower(), front.name
    assert headers["content-type"].startswith("text/html")
    policies = headers["content-security-policy"]  # repeated headers, joined by ", "
    assert "sandbox" not in policies, front.name
    assert policies.endswith("frame-ancestors 'self'"), (front.name, policies)
    # opencode's own policy for its app is kept, not replaced
    assert policies.startswith("default-src 'self'; script-src 'self'"), (front.name, policies)


# --- WebSocket routes are handshakes --------------------------------------------------


@pytest.fixture
def pty(opencode: Opencode) -> Iterator[str]:
    status, _, body = request(
        opencode.url,
        "POST",
        "/pty",
        {"Authorization": opencode.authorization},
        json.dumps({"command": "/bin/sh"}).encode(),
    )
    assert status == 200, body
    pty_id = str(json.loads(body)["id"])
    yield pty_id
    request(opencode.url, "DELETE", f"/pty/{pty_id}", {"Authorization": opencode.authorization})


def _basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"opencode:{secret}".encode()).decode()


async def test_a_page_of_another_origin_cannot_open_a_terminal(
    front: Front, real_tokens: Tokens, pty: str
) -> None:
    """The browser's saved Basic credentials, sent with a handshake that a page on a
    sibling origin (the same host, another port) started."""
    host = urllib.parse.urlsplit(front.url).hostname
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(
                f"{front.url}/pty/{pty}/connect",
                headers={
                    "Authorization": _basic(real_tokens.secrets["rwx"]),
                    "Origin": f"http://{host}:1",
                },
            )
        assert refused.value.status == 403, front.name
        # the same handshake from the front's own origin opens the terminal
        async with s.ws_connect(
            f"{front.url}/pty/{pty}/connect",
            headers={"Authorization": _basic(real_tokens.secrets["rwx"]), "Origin": front.url},
        ) as ws:
            await ws.send_str("echo same-origin-$((6*7))\n")
            seen = ""
            while "same-origin-42" not in seen:
                msg = await ws.receive(timeout=10)
                assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
                seen += msg.data if isinstance(msg.data, str) else msg.data.decode("latin-1")


async def test_the_bearer_subprotocol_opens_a_terminal_through_every_front(
    front: Front, real_tokens: Tokens, pty: str
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(
            f"{front.url}/pty/{pty}/connect", protocols=("bearer", real_tokens.secrets["rwx"])
        ) as ws,
    ):
        assert ws.protocol == "bearer", front.name
        await ws.send_str("echo subprotocol-$((6*7))\n")
        seen = ""
        while "subprotocol-42" not in seen:
            msg = await ws.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
            seen += msg.data if isinstance(msg.data, str) else msg.data.decode("latin-1")
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as lesser:
            await s.ws_connect(
                f"{front.url}/pty/{pty}/connect", protocols=("bearer", real_tokens.secrets["r"])
            )
        assert lesser.value.status == 403, front.name


# A Cookie header sent, and what opencode must get of it (None: no cookie at all).
COOKIES: tuple[tuple[str, str | None], ...] = (
    ("a=1; oat_session=SESSION; b=2", "a=1; b=2"),
    ("oat_session=SESSION; __Host-oat_session=HOSTSESSION; b=2", "; b=2"),
    ("__Host-oat_session=HOSTSESSION", None),
    ("x_oat_session=kept; foo=bar", "x_oat_session=kept; foo=bar"),
)


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_the_bearer_token_never_reaches_opencode(real_tokens: Tokens, proxy: str) -> None:
    """The proxies' configs rewrite `bearer, <token>` to `bearer` toward opencode (a
    fake opencode here, which echoes what reaches it), and take the sign-in's
    session cookie out of `Cookie`, as the gateway does: a session id is as good
    as the token for 30 days, and opencode has no use for it."""
    from tests.gateway.real_servers import find_caddy, find_nginx, start_caddy, start_nginx

    binary = find_nginx() if proxy == "nginx" else find_caddy()
    if binary is None:
        missing(f"{proxy} is not installed: run .ci/install-nginx.sh")
    fake, upstream = processes.fake_upstream("fake-pw")
    forward = processes.forward_auth(
        real_tokens.path, upstream=upstream, directories=["/srv/fake-project"], password="fake-pw"
    )
    secret = real_tokens.secrets["rwx"]
    answers = []
    try:
        forward.wait_for("serving the directories")
        start = start_nginx if proxy == "nginx" else start_caddy
        running = start(binary, upstream, forward.listening_url(), "fake-pw")
        try:
            for cookie, _ in COOKIES:
                headers = {
                    "Authorization": f"Bearer {secret}",
                    "Sec-WebSocket-Protocol": f"bearer, {secret}, other",
                    "Cookie": cookie,
                }
                answers.append(request(running.url, "GET", "/headers", headers))
        finally:
            running.stop()
    finally:
        forward.stop()
        fake.stop()
    for (cookie, forwarded), (status, _, body) in zip(COOKIES, answers, strict=True):
        assert status == 200, body
        seen = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        assert seen["sec-websocket-protocol"] == ["bearer, other"], proxy
        assert secret not in body.decode()
        assert "SESSION" not in body.decode(), (proxy, cookie, seen.get("cookie"))
        if forwarded is None:
            assert seen.get("cookie", [""]) == [""], (proxy, cookie)
        else:
            got = [c.strip("; ") for c in seen["cookie"]]
            assert got == [forwarded.strip("; ")], (proxy, cookie)
