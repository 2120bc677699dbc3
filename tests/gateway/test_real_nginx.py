"""nginx `auth_request` (and Caddy `forward_auth`) -> `opencode-auth-tui forward-auth`
-> opencode (or the fake opencode when the real one is not installed): the same
allow/deny matrix as the gateway. Skipped, with a message, when the proxy is not
installed."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from pathlib import Path

import pytest

from core.gateway.forward_auth import ERROR_HEADER_LIMIT
from core.store import TokenStore
from tests.gateway.conftest import Tokens, bad_checksum
from tests.gateway.real_servers import (
    NGINX_SITE,
    ROOT,
    Nginx,
    find_nginx,
    missing,
    request,
    start_nginx,
)

pytestmark = pytest.mark.nginx


@pytest.fixture(params=["nginx", "caddy"])
def front(request: pytest.FixtureRequest) -> Nginx:
    return request.getfixturevalue(f"{request.param}_front")  # type: ignore[no-any-return]


def call(
    front: Nginx, method: str, path: str, token: str | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    all_headers = dict(headers)
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    return request(front.url, method, path, all_headers, body)


MATRIX = [
    ("GET", "/global/health", None, 200),
    ("GET", "/path", "r", 200),
    ("GET", "/config", "r", 403),  # the config can hold API keys
    ("GET", "/config", "rx", 200),
    ("GET", "/session", "r", 403),
    ("POST", "/session", "r", 403),
    ("GET", "/session", "rx", 200),
    ("POST", "/session", "rx", 403),
    ("POST", "/session", "wx", 200),
    ("GET", "/session?limit=1", "rwx", 200),
    ("GET", "/global/../session", "r", 403),
    ("GET", "/%73ession", "r", 403),
    ("GET", "/path", None, 401),
    ("GET", "/path", "expired", 401),
]


@pytest.mark.parametrize(("method", "path", "token", "status"), MATRIX)
def test_matrix_through_nginx(
    front: Nginx, real_tokens: Tokens, method: str, path: str, token: str | None, status: int
) -> None:
    secret = real_tokens.secrets[token] if token else None
    got, headers, body = call(front, method, path, secret)
    assert got == status, (front.upstream_kind, body[:200])
    if status == 200 and token and front.proxy == "nginx":  # the example adds it for logs
        assert headers["x-auth-token-id"] == real_tokens.ids[token]
    if status == 401:  # Basic first, so a browser prompts (nginx passes only that one)
        assert headers["www-authenticate"].startswith('Basic realm="opencode"')
    if method == "POST" and status == 200 and front.upstream_kind == "opencode":
        assert json.loads(body)["id"].startswith("ses")


def test_bad_checksum_and_deleted_tokens(front: Nginx, real_tokens: Tokens) -> None:
    status, headers, _ = call(front, "GET", "/path", bad_checksum(real_tokens.secrets["r"]))
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic")
    store = TokenStore(real_tokens.path)
    issued = store.create(name="nginx-short", permissions="read", expires="1d")
    assert call(front, "GET", "/path", issued.secret.reveal())[0] == 200
    store.delete([issued.record.id])
    assert call(front, "GET", "/path", issued.secret.reveal())[0] == 401


def test_a_client_cannot_smuggle_its_own_original_request_headers(
    front: Nginx, real_tokens: Tokens
) -> None:
    # A read token pretending its POST /session is a GET /config.
    status, _, _ = call(
        front,
        "POST",
        "/session",
        real_tokens.secrets["r"],
        **{
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": "/config",
            "X-Original-Method": "GET",
            "X-Original-URI": "/config",
        },
    )
    assert status == 403


# --- a refusal reaches the client as forward-auth's JSON ------------------------------

WEBSOCKET = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}

# (method, target, credentials, headers, status, reason); credentials name a token
# of real_tokens, or one of the kinds in _credentials
REFUSALS = [
    ("GET", "/path", None, {}, 401, "missing_token"),
    ("GET", "/path", "junk", {}, 401, "malformed"),
    ("GET", "/path", "bad checksum", {}, 401, "bad_checksum"),
    ("GET", "/path", "unissued", {}, 401, "unknown_token"),
    ("GET", "/path", "expired", {}, 401, "expired"),
    ("GET", "/session", "r", {}, 403, "insufficient_scope"),
    ("POST", "/session", "rx", {}, 403, "insufficient_scope"),
    ("GET", "/config/providers", "r", {}, 403, "insufficient_scope"),
    ("GET", "/file/content?directory=/etc&path=passwd", "r", {}, 403, "directory_not_allowed"),
    # nginx does not expand variables in a variable's value: the `$` stay as they are
    (
        "GET",
        "/file/content?path=x",
        "r",
        {"x-opencode-directory": "/srv/$host${remote_addr}$1"},
        403,
        "directory_not_allowed",
    ),
    # 400 (nginx: auth_request's 500, turned back into forward-auth's answer)
    ("GET", "/file?directory=relative/dir", "r", {}, 400, "bad_directory"),
    ("GET", "/path?auth_token=b3BlbmNvZGU6eA%3D%3D", None, {}, 401, "url_credentials"),
    # WebSocket handshakes are refused before the upgrade, with the same bodies
    ("GET", "/pty/pty_1/connect", None, WEBSOCKET, 401, "missing_token"),
    ("GET", "/pty/pty_1/connect", "r", WEBSOCKET, 403, "insufficient_scope"),
]


def _credentials(real_tokens: Tokens, kind: str | None, tmp_path: Path) -> str | None:
    if kind is None:
        return None
    if kind == "junk":
        return "not-a-token"
    if kind == "bad checksum":
        return bad_checksum(real_tokens.secrets["r"])
    if kind == "unissued":
        return TokenStore(tmp_path / "elsewhere.json").create(name="elsewhere").secret.reveal()
    return real_tokens.secrets[kind]


def ask_forward_auth(
    front: Nginx, method: str, target: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """forward-auth's own answer, asked the way nginx asks it."""
    original = {"X-Original-Method": method, "X-Original-URI": target}
    return request(front.forward_auth, "GET", "/auth", {**headers, **original})


@pytest.mark.parametrize(
    ("method", "target", "credentials", "extra", "status", "reason"),
    REFUSALS,
    ids=[f"{m} {t[:30]} {c} {r}" for m, t, c, _, _, r in REFUSALS],
)
def test_a_refusal_is_forward_auths_json(
    front: Nginx,
    real_tokens: Tokens,
    tmp_path: Path,
    method: str,
    target: str,
    credentials: str | None,
    extra: dict[str, str],
    status: int,
    reason: str,
) -> None:
    secret = _credentials(real_tokens, credentials, tmp_path)
    got, headers, body = call(front, method, target, secret, **extra)
    assert got == status, (front.proxy, body[:300])
    assert headers["content-type"].split(";")[0] == "application/json"
    answer = json.loads(body)
    assert answer["error"] == reason and answer["message"]
    # the body forward-auth gave, as it gave it
    auth = {"Authorization": f"Bearer {secret}"} if secret else {}
    direct_status, _, direct_body = ask_forward_auth(front, method, target, {**auth, **extra})
    assert (got, answer) == (direct_status, json.loads(direct_body))
    if status == 401:  # Basic first, so a browser prompts (nginx 1.22 passes only that one)
        assert headers["www-authenticate"].startswith('Basic realm="opencode"')
    if front.proxy == "nginx":
        assert "x-auth-error" not in headers  # it stays between nginx and forward-auth
    else:  # Caddy hands on forward-auth's whole answer, the header too
        assert json.loads(headers["x-auth-error"]) == answer
    if secret:
        assert secret not in body.decode()


def test_a_lesser_token_gets_the_message_opencodes_clients_show(
    front: Nginx, real_tokens: Tokens
) -> None:
    status, headers, body = call(front, "GET", "/session", real_tokens.secrets["r"])
    assert status == 403
    assert json.loads(body) == {
        "error": "insufficient_scope",
        "required": ["read", "execute"],
        "granted": ["read"],
        "message": "GET /session needs read and execute; this token has read "
        "(lists the directory's sessions (titles, ids))",
    }
    assert "<html" not in body.decode()
    status, headers, body = call(front, "GET", "/session")
    assert status == 401 and headers["www-authenticate"].startswith('Basic realm="opencode"')
    assert json.loads(body) == {
        "error": "missing_token",
        "required": ["read", "execute"],
        "granted": [],
        "message": "no token: send Authorization: Bearer <token>, or Basic credentials "
        "with the token as the password",
    }


def test_a_head_request_is_refused_without_a_body(front: Nginx, real_tokens: Tokens) -> None:
    status, headers, body = call(front, "HEAD", "/session", real_tokens.secrets["r"])
    assert (status, body) == (403, b"")
    assert headers["content-type"].split(";")[0] == "application/json"


def test_a_long_message_is_cut_to_fit_nginxs_header_buffer(
    front: Nginx, real_tokens: Tokens
) -> None:
    """A directory of 3000 characters: its 403, not nginx's 500 for a header too big
    to read. nginx shows the message cut in the middle; Caddy the whole body."""
    directory = "/srv/" + "d" * 3000 + "/end"
    target = "/file/content?path=x&directory=" + urllib.parse.quote(directory, safe="/")
    status, _, body = call(front, "GET", target, real_tokens.secrets["r"])
    assert status == 403, body[:300]
    answer = json.loads(body)
    assert answer["error"] == "directory_not_allowed"
    outside = " is outside the directories this server serves"
    if front.proxy == "caddy":
        assert answer["message"] == directory + outside
    else:
        assert len(body) <= ERROR_HEADER_LIMIT
        head, cut, tail = answer["message"].partition("...")
        assert cut and directory.startswith(head) and len(head) > 1000
        assert tail.endswith("/end" + outside)


def test_an_unreadable_store_is_503_with_its_json(front: Nginx, real_tokens: Tokens) -> None:
    good = real_tokens.path.read_bytes()
    try:
        real_tokens.path.write_text("[1, 2")
        status, _, body = call(front, "GET", "/path", real_tokens.secrets["r"])
    finally:
        real_tokens.path.write_bytes(good)
    assert status == 503, body[:300]
    assert json.loads(body)["error"] == "store_unavailable"
    assert str(real_tokens.path) not in body.decode()
    assert call(front, "GET", "/path", real_tokens.secrets["r"])[0] == 200


# --- what nginx answers by itself ----------------------------------------------------

# The README's config with one more reason for nginx itself to refuse, as a site's
# own rules might (`deny`, a `return 403`), before forward-auth is asked.
_AUTH_REQUEST = "            auth_request /_opencode_auth;\n"
REFUSING_SITE = NGINX_SITE.replace(
    _AUTH_REQUEST, "            if ($http_x_refuse) {{ return 403; }}\n" + _AUTH_REQUEST, 1
)
PROXY_ERROR = {"error": "proxy_error", "message": "nginx answered this itself, not forward-auth"}


@pytest.fixture
def nginx_binary() -> str:
    binary = find_nginx()
    if binary is None:
        missing("nginx is not installed: run .ci/install-nginx.sh (Debian package nginx)")
    return binary


def test_nginxs_own_refusal_never_shows_another_requests_message(
    nginx_binary: str, nginx_front: Nginx, real_tokens: Tokens
) -> None:
    assert REFUSING_SITE != NGINX_SITE
    nginx = start_nginx(
        nginx_binary,
        "http://127.0.0.1:9",  # nothing listens: every request here is refused
        nginx_front.forward_auth,
        "unused",
        site=REFUSING_SITE,
        healthy=False,
    )
    try:
        host, port = nginx.url.rsplit(":", 1)
        conn = http.client.HTTPConnection(host.split("//")[1], int(port), timeout=10)
        try:  # one connection: a refusal with a message, then nginx's own 403
            auth = {"Authorization": f"Bearer {real_tokens.secrets['r']}"}
            answers = []
            for headers in (auth, {**auth, "X-Refuse": "1"}, auth):
                conn.request("GET", "/session", headers=headers)
                resp = conn.getresponse()
                answers.append((resp.status, json.loads(resp.read())))
        finally:
            conn.close()
    finally:
        nginx.stop()
    scope, own, again = answers
    assert scope[0] == 403 and scope[1]["error"] == "insufficient_scope"
    assert own == (403, PROXY_ERROR)
    assert again == scope


def test_forward_auth_unreachable_is_502_and_says_so(nginx_binary: str) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}"
    nginx = start_nginx(nginx_binary, "http://127.0.0.1:9", closed, "unused", healthy=False)
    try:
        status, headers, body = request(nginx.url, path="/session")
        errors = (nginx.prefix / "error.log").read_text()
    finally:
        nginx.stop()
    assert (status, json.loads(body)) == (502, PROXY_ERROR)
    assert headers["content-type"] == "application/json"
    assert "auth request unexpected status: 502" in errors


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns


# --- the README's config is this one --------------------------------------------------


def _directives(config: str) -> list[str]:
    """The lines of an nginx config without comments, blank lines, indentation, and
    the `listen` line (the README's is TLS on 443, the tests' a loopback port)."""
    lines = []
    for line in config.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("listen "):
            lines.append(line)
    return lines


def test_the_readme_nginx_config_is_the_tested_one() -> None:
    readme = (ROOT / "docs" / "nginx-and-caddy.md").read_text()  # the configs moved there
    blocks = re.findall(r"```nginx\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1
    tested = NGINX_SITE.format(
        upstream="127.0.0.1:4096",
        port=0,
        forward_auth="127.0.0.1:4098",
        authorization="Basic BASE64_OF_opencode:PASSWORD",
    )
    assert _directives(blocks[0]) == _directives(tested)


def test_the_readme_caddyfile_is_the_tested_one() -> None:
    from tests.gateway.real_servers import CADDYFILE

    readme = (ROOT / "docs" / "nginx-and-caddy.md").read_text()  # the configs moved there
    blocks = re.findall(r"```caddyfile\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1
    tested = CADDYFILE.format(
        tmp="/tmp",
        port=0,
        forward_auth="127.0.0.1:4098",
        upstream="127.0.0.1:4096",
        authorization="Basic {env.OPENCODE_BASIC_AUTH}",
    )
    site = tested[tested.index("http://127.0.0.1:0 {") :]  # the global options are the tests'
    # each block's first line is its site address (the README's opencode.example.com)
    assert _directives(blocks[0])[1:] == _directives(site)[1:]
