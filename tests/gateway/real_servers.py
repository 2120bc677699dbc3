"""A real `opencode serve` and a real nginx, started on loopback for the tests.

opencode comes from .ci/install-opencode.sh (.ci/work/node) or PATH; nginx from
the Debian package (.ci/install-nginx.sh). Each runs with everything in a
temporary folder - HOME, XDG folders, nginx's prefix - so nothing real is
touched, and is stopped at the end of the session. When a binary is missing,
the tests that need it skip and say how to install it.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.gateway import processes
from tests.gateway.conftest import Tokens, make_tokens

ROOT = processes.ROOT
OPENCODE_LOCAL = ROOT / ".ci" / "work" / "node" / "node_modules" / ".bin" / "opencode"


def missing(reason: str) -> NoReturn:
    """Skip, or - when CI is set - fail: a green CI run means the real thing ran."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def find_opencode() -> str | None:
    if os.environ.get("OAT_TESTS_NO_OPENCODE"):  # to exercise the skip/fallback paths
        return None
    if OPENCODE_LOCAL.exists() and os.access(OPENCODE_LOCAL, os.X_OK):
        return str(OPENCODE_LOCAL)
    return shutil.which("opencode")


def find_nginx() -> str | None:
    if os.environ.get("OAT_TESTS_NO_NGINX"):
        return None
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )


def basic(password: str, user: str = "opencode") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(
    url: str,
    method: str = "GET",
    path: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a fresh connection (the path is sent exactly as given)."""
    host_port = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        joined: dict[str, str] = {}
        for name, value in resp.getheaders():  # a repeated header: values joined, in order
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return resp.status, joined, resp.read()
    finally:
        conn.close()


def wait_until_healthy(url: str, authorization: str | None, deadline: float) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, _, _ = request(url, path="/global/health", headers=headers, timeout=1.0)
            if status == 200:
                return
            last = status
        except OSError as exc:  # refused while starting, or the first connection hangs
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy: {last}")


ENV_KEY_CANARY = "sk-env-canary-" + secrets.token_hex(8)
AUTH_KEY_CANARY = "sk-ant-canary-" + secrets.token_hex(8)
README_TEXT = "hello from the gateway tests\n"


@dataclass
class Opencode:
    url: str
    password: str
    home: Path
    proc: subprocess.Popen[str]

    @property
    def authorization(self) -> str:
        return basic(self.password)

    @property
    def project(self) -> Path:
        """opencode's own directory: a git repository with a README."""
        return self.home / "project"

    @property
    def outside(self) -> Path:
        """A folder outside the project, whose opencode.json starts an MCP command."""
        return self.home / "outside"

    @property
    def canaries(self) -> tuple[str, ...]:
        """Secrets opencode holds that no refused request may ever reveal."""
        return (self.password, ENV_KEY_CANARY, AUTH_KEY_CANARY)


def git_repository(folder: Path) -> None:
    """`folder` made a git repository with one (empty) commit: opencode takes a
    folder without one for no project, and its first request there can hang.

    The commit's message is unique: opencode names a project by its root commit, and
    two empty commits with one message made in the same second are the same commit,
    so two folders would be one project (whose worktree is the first folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    identity = ["-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    commit = ["commit", "-q", "--allow-empty", "-m", f"start {secrets.token_hex(8)}"]
    subprocess.run(["git", "-C", str(folder), *identity, *commit], check=True)


def start_opencode(binary: str) -> Opencode:
    """`opencode serve` on a free loopback port, with a fresh HOME and XDG folders
    and a random password; `stop_opencode` removes it all again.

    It holds secrets a reviewer would go after: a provider key in its
    credentials file and another in its environment (`canaries`), and a folder
    outside its project whose opencode.json would run a command."""
    home = Path(tempfile.mkdtemp(prefix="oat-opencode-"))
    project = home / "project"
    project.mkdir()
    (project / "README.md").write_text(README_TEXT)
    git_repository(project)
    outside = home / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the project\n")
    marker = home / "outside-mcp-ran"
    (outside / "opencode.json").write_text(
        json.dumps(
            {
                "$schema": "https://opencode.ai/config.json",
                "mcp": {
                    "probe": {
                        "type": "local",
                        "command": ["sh", "-c", f"date >> {marker}; sleep 30"],
                    }
                },
            }
        )
    )
    data = home / ".local" / "share" / "opencode"
    data.mkdir(parents=True)
    (data / "auth.json").write_text(
        json.dumps({"anthropic": {"type": "api", "key": AUTH_KEY_CANARY}})
    )
    os.chmod(data / "auth.json", 0o600)
    # never starting with "-": `opencode attach -p -xyz` takes it for an option
    password = "pw" + secrets.token_urlsafe(16)
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("OPENCODE_", "XDG_"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        OPENCODE_SERVER_PASSWORD=password,
        OPENCODE_DISABLE_AUTOUPDATE="1",
        OPENAI_API_KEY=ENV_KEY_CANARY,
        SHELL="/bin/sh",
    )
    log = (home / "opencode.log").open("w")
    proc = subprocess.Popen(
        [binary, "serve", "--hostname", "127.0.0.1", "--port", "0", "--pure"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    server = Opencode("", password, home, proc)
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                server.url = line.strip().rsplit(" ", 1)[-1]
                break
        if not server.url:
            raise RuntimeError(
                "opencode serve did not start:\n" + (home / "opencode.log").read_text()[-2000:]
            )
        wait_until_healthy(server.url, basic(password), time.monotonic() + 30)
    except BaseException:
        stop_opencode(server)
        raise
    return server


def stop_opencode(server: Opencode, *, patience: float = 10) -> None:
    """Stop it (killed after `patience` seconds: it may take ten to stop on its own)
    and remove its folders."""
    server.proc.terminate()
    try:
        server.proc.wait(patience)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    shutil.rmtree(server.home, ignore_errors=True)


@pytest.fixture(scope="session")
def opencode() -> Iterator[Opencode]:
    binary = find_opencode()
    if binary is None:
        missing(
            "opencode is not installed: run .ci/install-opencode.sh "
            "(npm package opencode-ai) or put `opencode` on PATH"
        )
    server = start_opencode(binary)
    try:
        yield server
    finally:
        stop_opencode(server)


@pytest.fixture(scope="session")
def real_tokens(tmp_path_factory: pytest.TempPathFactory) -> Tokens:
    return make_tokens(tmp_path_factory.mktemp("real-store") / "auth-tokens.json")


@dataclass
class RunningGateway:
    url: str
    child: processes.Child


@pytest.fixture(scope="session")
def opencode_gateway(opencode: Opencode, real_tokens: Tokens) -> Iterator[RunningGateway]:
    """`opencode-auth-tui gateway` (the real command) in front of the real opencode."""
    child = processes.gateway(real_tokens.path, opencode.url, password=opencode.password)
    try:
        url = child.listening_url()
        child.wait_for("serving the directories")  # learned opencode's directory
        yield RunningGateway(url, child)
    finally:
        child.stop()


# --- nginx + forward-auth ---------------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{site}
}}
"""

# The example from the README, with the addresses filled in.
NGINX_SITE = """\
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    # a bearer subprotocol's token never reaches opencode; `bearer` stays, so
    # opencode echoes it and a browser's handshake completes
    map $http_sec_websocket_protocol $websocket_protocol {{
        "~*^\\s*bearer\\s*,\\s*[^,\\s]+\\s*(?<rest>,.*)?$" "bearer$rest";
        default $http_sec_websocket_protocol;
    }}
    # the sign-in's session cookie is forward-auth's business, never opencode's
    map $http_cookie $cookie_but_host_session {{
        "~^(?<before>.*?)(?:^|;\\s*)__Host-oat_session=[^;]*(?<after>.*)$" "$before$after";
        default $http_cookie;
    }}
    map $cookie_but_host_session $opencode_cookie {{
        "~^(?<before>.*?)(?:^|;\\s*)oat_session=[^;]*(?<after>.*)$" "$before$after";
        default $cookie_but_host_session;
    }}
    # forward-auth's refusal (X-Auth-Error); when nginx answers by itself (a deny
    # rule, forward-auth unreachable) it says so - never another request's message
    map $auth_error $auth_error_body {{
        ""  '{{"error":"proxy_error","message":"nginx answered this itself, not forward-auth"}}';
        default $auth_error;
    }}

    upstream opencode {{ server {upstream}; keepalive 16; }}
    # kept-alive connections to forward-auth: no new connection per subrequest
    upstream opencode_auth {{ server {forward_auth}; keepalive 16; }}

    server {{
        listen 127.0.0.1:{port};

        location = /_opencode_auth {{
            internal;
            proxy_pass http://opencode_auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Host $http_host;
            proxy_set_header Upgrade $http_upgrade;   # every WebSocket handshake
            proxy_set_header X-Forwarded-Proto $scheme;  # a Secure cookie under TLS
            proxy_set_header X-Forwarded-For $remote_addr;
            # never let a client's own X-Forwarded-* reach forward-auth
            proxy_set_header X-Forwarded-Method "";
            proxy_set_header X-Forwarded-Uri "";
        }}

        # the sign-in pages (login, logout, pairing) are forward-auth's own; not
        # in nginx's log: a pairing link holds its code (forward-auth logs them)
        location /_auth/ {{
            access_log off;
            proxy_pass http://{forward_auth};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}

        location / {{
            auth_request /_opencode_auth;
            auth_request_set $token_id $upstream_http_x_auth_token_id;
            auth_request_set $auth_error $upstream_http_x_auth_error;
            auth_request_set $auth_status $upstream_status;
            auth_request_set $auth_csp $upstream_http_x_auth_content_security_policy;
            auth_request_set $auth_nosniff $upstream_http_x_auth_content_type_options;
            auth_request_set $auth_disposition $upstream_http_x_auth_content_disposition;
            auth_request_set $auth_redirect $upstream_http_x_auth_redirect;
            add_header X-Auth-Token-Id $token_id always;
            # what forward-auth says the answer needs: a sandbox on opencode's API,
            # so a project's files never run as pages of this origin
            add_header Content-Security-Policy $auth_csp always;
            add_header X-Content-Type-Options $auth_nosniff always;
            add_header Content-Disposition $auth_disposition always;
            # nginx drops the body of a refusal: answer with forward-auth's JSON
            error_page 401 = @auth_401;
            error_page 403 = @auth_403;
            error_page 500 = @auth_500;   # nginx's answer to forward-auth's 400, 502, 503

            proxy_pass http://opencode;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;   # opencode checks it against Origin
            proxy_set_header Authorization "{authorization}";
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Sec-WebSocket-Protocol $websocket_protocol;
            proxy_set_header Cookie $opencode_cookie;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1h;
        }}

        # a browser's page without a session goes to the login page; otherwise the
        # 401 keeps auth_request's first WWW-Authenticate (Basic)
        location @auth_401 {{
            absolute_redirect off;
            if ($auth_redirect) {{ return 303 $auth_redirect; }}
            default_type application/json;
            return 401 $auth_error_body;
        }}
        location @auth_403 {{ default_type application/json; return 403 $auth_error_body; }}
        location @auth_500 {{
            default_type application/json;
            if ($auth_status = 400) {{ return 400 $auth_error_body; }}
            if ($auth_status = 502) {{ return 502 $auth_error_body; }}
            if ($auth_status = 503) {{ return 503 $auth_error_body; }}
            return 500 $auth_error_body;
        }}
    }}
"""


@dataclass
class Nginx:
    url: str
    upstream_kind: str  # "opencode" or "fake"
    proxy: str = "nginx"
    forward_auth: str = ""  # forward-auth's own URL, to ask it directly
    access_log: Path | None = None  # nginx's own access log


@dataclass
class NginxProcess:
    url: str
    proc: subprocess.Popen[bytes]
    prefix: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


def start_nginx(
    binary: str,
    upstream_url: str,
    forward_auth_url: str,
    password: str,
    *,
    site: str = NGINX_SITE,
    healthy: bool = True,
) -> NginxProcess:
    """nginx on a free loopback port with the README's auth_request config (or
    `site`, a variant of it); it has started once /global/health answers 200 - or,
    when not `healthy` (forward-auth is meant to be unreachable), answers at all."""
    tmp = Path(tempfile.mkdtemp(prefix="oat-nginx-"))
    port = _free_port()
    filled = site.format(
        upstream=upstream_url.split("://", 1)[1],
        port=port,
        forward_auth=forward_auth_url.split("://", 1)[1],
        authorization=basic(password),
    )
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, site=filled))
    proc = subprocess.Popen(
        [binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    running = NginxProcess(f"http://127.0.0.1:{port}", proc, tmp)
    try:
        if healthy:
            wait_until_healthy(running.url, None, time.monotonic() + 20)
        else:
            _wait_until_answering(running.url, time.monotonic() + 20)
    except RuntimeError:
        err = proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else ""
        errlog = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
        running.stop()
        raise RuntimeError(f"nginx did not start: {err}\n{errlog}") from None
    return running


@pytest.fixture(scope="session")
def nginx_front(request: pytest.FixtureRequest, real_tokens: Tokens) -> Iterator[Nginx]:
    binary = find_nginx()
    if binary is None:
        missing("nginx is not installed: run .ci/install-nginx.sh (Debian package nginx)")
    fake: processes.Child | None = None
    forward_auth, upstream_url, password, kind, fake = _forward_auth_for(request, real_tokens)
    running: NginxProcess | None = None
    try:
        running = start_nginx(binary, upstream_url, forward_auth.listening_url(), password)
        yield Nginx(
            running.url,
            kind,
            forward_auth=forward_auth.listening_url(),
            access_log=running.prefix / "access.log",
        )
    finally:
        if running is not None:
            running.stop()
        forward_auth.stop()
        if fake is not None:
            fake.stop()


def _forward_auth_for(
    request: pytest.FixtureRequest, tokens: Tokens
) -> tuple[processes.Child, str, str, str, processes.Child | None]:
    """forward-auth for the real opencode (serving its project directory), or for
    the fake one when opencode is not installed."""
    fake: processes.Child | None = None
    if find_opencode() is not None:
        oc: Opencode = request.getfixturevalue("opencode")
        upstream_url, password, kind = oc.url, oc.password, "opencode"
        directories = [str(oc.project)]
    else:
        from tests.gateway.fake_upstream import FAKE_DIRECTORY

        fake, upstream_url = processes.fake_upstream("fake-pw")
        password, kind, directories = "fake-pw", "fake", [FAKE_DIRECTORY]
    child = processes.forward_auth(
        tokens.path, upstream=upstream_url, directories=directories, password=password
    )
    child.wait_for("serving the directories")
    return child, upstream_url, password, kind, fake


def _wait_until_answering(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            request(url, path="/global/health", timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} does not answer")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def json_body(raw: bytes) -> object:
    return json.loads(raw.decode())


# --- Caddy + forward-auth ---------------------------------------------------------

# The example from the README, with the addresses filled in.
CADDYFILE = """\
{{
    admin off
    auto_https off
    storage file_system {tmp}/storage
}}

http://127.0.0.1:{port} {{
    # the sign-in pages (login, logout, pairing) are forward-auth's own
    handle /_auth/* {{
        reverse_proxy {forward_auth}
    }}
    handle {{
        forward_auth {forward_auth} {{
            uri /auth
            copy_headers {{
                X-Auth-Token-Id
                X-Auth-Content-Security-Policy
                X-Auth-Content-Type-Options
                X-Auth-Content-Disposition
            }}
            # Caddy sets X-Forwarded-Method/-Uri itself; drop any X-Original-* a client sent
            header_up -X-Original-Method
            header_up -X-Original-URI
            header_up -X-Original-Host
        }}
        reverse_proxy {upstream} {{
            header_up Authorization "{authorization}"
            # a bearer subprotocol's token never reaches opencode (`bearer` stays)
            header_up Sec-WebSocket-Protocol "(?i)^\\s*bearer\\s*,\\s*[^,\\s]+" "bearer"
            # the sign-in's session cookie is forward-auth's business, never opencode's
            # ($1 is the empty group at the end: Caddy needs a replacement to be given)
            header_up Cookie "(?:^|;\\s*)(?:__Host-)?oat_session=[^;]*()" "$1"
            # what forward-auth says the answer needs: a sandbox on opencode's API
            header_up -X-Auth-Content-Security-Policy
            header_up -X-Auth-Content-Type-Options
            header_up -X-Auth-Content-Disposition
            header_down +Content-Security-Policy {{http.request.header.X-Auth-Content-Security-Policy}}
            header_down X-Content-Type-Options {{http.request.header.X-Auth-Content-Type-Options}}
            header_down Content-Disposition {{http.request.header.X-Auth-Content-Disposition}}
            flush_interval -1
        }}
    }}
}}
"""


def find_caddy() -> str | None:
    if os.environ.get("OAT_TESTS_NO_CADDY"):
        return None
    return shutil.which("caddy")


@dataclass
class CaddyProcess:
    url: str
    proc: subprocess.Popen[bytes]
    prefix: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


def start_caddy(
    binary: str, upstream_url: str, forward_auth_url: str, password: str
) -> CaddyProcess:
    """Caddy on a free loopback port with the README's Caddyfile."""
    tmp = Path(tempfile.mkdtemp(prefix="oat-caddy-"))
    port = _free_port()
    conf = tmp / "Caddyfile"
    conf.write_text(
        CADDYFILE.format(
            tmp=tmp,
            port=port,
            forward_auth=forward_auth_url.split("://", 1)[1],
            upstream=upstream_url.split("://", 1)[1],
            authorization=basic(password),
        )
    )
    env = {**os.environ, "HOME": str(tmp), "XDG_DATA_HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp)}
    proc = subprocess.Popen(
        [binary, "run", "--config", str(conf), "--adapter", "caddyfile"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "caddy.log").open("w"),
        env=env,
    )
    running = CaddyProcess(f"http://127.0.0.1:{port}", proc, tmp)
    try:
        wait_until_healthy(running.url, None, time.monotonic() + 20)
    except RuntimeError:
        log = (tmp / "caddy.log").read_text()[-2000:]
        running.stop()
        raise RuntimeError("caddy did not start:\n" + log) from None
    return running


@pytest.fixture(scope="session")
def caddy_front(request: pytest.FixtureRequest, real_tokens: Tokens) -> Iterator[Nginx]:
    binary = find_caddy()
    if binary is None:
        missing("caddy is not installed: run .ci/install-nginx.sh (Debian package caddy)")
    fake: processes.Child | None = None
    forward_auth, upstream_url, password, kind, fake = _forward_auth_for(request, real_tokens)
    running: CaddyProcess | None = None
    try:
        running = start_caddy(binary, upstream_url, forward_auth.listening_url(), password)
        yield Nginx(running.url, kind, "caddy", forward_auth.listening_url())
    finally:
        if running is not None:
            running.stop()
        forward_auth.stop()
        if fake is not None:
            fake.stop()
