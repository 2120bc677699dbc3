"""Drivers for opencode's own clients, for tests and for the request recorder.

- `opencode attach` runs in a private tmux server (its own `-L` socket, so no other
  tmux is touched); the screen is read with capture-pane.
- The web app runs in Debian's Chromium through Playwright for Python
  (`executable_path`, a fresh empty profile per browser). A person signs in to a
  front (the gateway, nginx or Caddy + forward-auth) on its login page (`sign_in`);
  opencode itself still takes its Basic password (`http_credentials`).
- The JS SDK runs as `node tests/clients/sdk_list_sessions.mjs`.

Nothing here asserts on durations: waits poll until a condition holds, with a
generous limit that only turns a hang into a readable failure.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import functools
import http.client
import http.server
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE_PREFIX = ROOT / ".ci" / "work" / "node"
SDK_DIR = NODE_PREFIX / "node_modules" / "@opencode-ai" / "sdk"
SDK_SCRIPT = Path(__file__).with_name("sdk_list_sessions.mjs")
DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Without the background-networking flags Chromium keeps trying to reach Google's
# services, which a closed network turns into a flood of failing connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SESSION_TITLE = "harness session one"
WAIT = 60.0  # the limit of every poll: a hang becomes a failure with the screen in it


# --- finding the tools ------------------------------------------------------------


def find_chromium() -> str | None:
    if os.environ.get("OAT_TESTS_NO_BROWSER"):  # to exercise the skip/fail paths
        return None
    path = os.environ.get("OAT_CHROMIUM", DEFAULT_CHROMIUM)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def playwright_missing() -> str | None:
    """Why Playwright for Python cannot be imported, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc}): pip install -e '.[test]'"
    return None


def find_tmux() -> str | None:
    if os.environ.get("OAT_TESTS_NO_TMUX"):
        return None
    return shutil.which("tmux")


def find_node() -> str | None:
    if os.environ.get("OAT_TESTS_NO_NODE"):
        return None
    return shutil.which("node")


def sdk_version() -> str | None:
    """The installed @opencode-ai/sdk version (from .ci/install-sdk.sh), or None."""
    if os.environ.get("OAT_TESTS_NO_SDK"):
        return None
    try:
        return str(json.loads((SDK_DIR / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def opencode_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


# --- a real opencode --------------------------------------------------------------


def _real_servers() -> Any:
    # tests.gateway.real_servers imports tests.gateway.conftest, which imports
    # real_servers back; loading the conftest first resolves the cycle.
    import tests.gateway.conftest  # noqa: F401
    from tests.gateway import real_servers

    return real_servers


def basic_credentials(password: str, user: str = "opencode") -> str:
    """base64(user:password): the value after `Basic ` and of `?auth_token=`."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Server:
    """A real `opencode serve` (from tests/gateway/real_servers.start_opencode)."""

    handle: Any  # real_servers.Opencode
    project: Path  # opencode's working directory, a git repository

    @property
    def url(self) -> str:
        return str(self.handle.url)

    @property
    def password(self) -> str:
        return str(self.handle.password)

    @property
    def home(self) -> Path:
        return Path(self.handle.home)

    def api(
        self, method: str, target: str, body: object | None = None, password: str | None = None
    ) -> tuple[int, Any]:
        """One request with opencode's Basic credentials; (status, parsed JSON or None)."""
        real_servers = _real_servers()
        headers = {"Authorization": "Basic " + basic_credentials(password or self.password)}
        raw = json.dumps(body).encode() if body is not None else None
        status, _, data = real_servers.request(self.url, method, target, headers, raw)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    def create_session(self, title: str, directory: Path | None = None) -> str:
        query = urllib.parse.urlencode({"directory": str(directory or self.project)})
        status, data = self.api("POST", f"/session?{query}", {"title": title})
        assert status == 200, (status, data)
        return str(data["id"])

    @property
    def in_project(self) -> str:
        """The query that names opencode's project directory."""
        return urllib.parse.urlencode({"directory": str(self.project)})

    def ptys(self) -> set[str]:
        """The ids of opencode's terminals in its project, as opencode itself lists them."""
        status, data = self.api("GET", f"/pty?{self.in_project}")
        assert status == 200, (status, data)
        return {str(pty["id"]) for pty in data}

    def create_pty(self) -> str:
        """A terminal running the default shell, created directly (opencode's password)."""
        status, data = self.api("POST", f"/pty?{self.in_project}", {})
        assert status == 200, (status, data)
        return str(data["id"])

    def remove_pty(self, pty_id: str) -> None:
        self.api("DELETE", f"/pty/{pty_id}?{self.in_project}")

    def pty_output(self, pty_id: str, quiet: float = 1.0) -> str:
        """What a terminal has printed so far: opencode replays it to every new
        connection (made here directly, with its password), until `quiet` seconds
        pass without a frame (only its text frames: the binary ones are opencode's
        own control messages)."""
        import asyncio

        import aiohttp

        url = self.url.replace("http://", "ws://", 1) + f"/pty/{pty_id}/connect?{self.in_project}"
        headers = {"Authorization": "Basic " + basic_credentials(self.password)}

        async def read() -> str:
            text: list[str] = []
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(url, headers=headers) as ws,
            ):
                while True:
                    try:
                        message = await asyncio.wait_for(ws.receive(), quiet)
                    except TimeoutError:
                        break
                    if message.type is aiohttp.WSMsgType.TEXT:
                        text.append(message.data)
                    elif message.type is not aiohttp.WSMsgType.BINARY:
                        break
            return "".join(text)

        # in a thread of its own: Playwright's sync API keeps an event loop running here
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, read()).result()


def start_server(binary: str) -> Server:
    """opencode on a free loopback port (tests/gateway/real_servers.start_opencode: its
    project is a git repository with a first commit, which the web app needs to list
    it as a project), with one session."""
    real_servers = _real_servers()
    handle = real_servers.start_opencode(binary)
    try:
        server = Server(handle, Path(handle.project))
        server.create_session(SESSION_TITLE)
    except BaseException:
        real_servers.stop_opencode(handle)
        raise
    return server


def stop_server(server: Server) -> None:
    # opencode now and then takes the full 10 s that stop_opencode grants it before
    # it kills it (no pattern found: seen after browser tests, gone on a rerun);
    # 3 s is plenty for a clean exit and keeps the suite short.
    proc = server.handle.proc
    proc.terminate()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _real_servers().stop_opencode(server.handle)


def plain_request(
    url: str, method: str = "GET", target: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, list[str]], bytes]:
    """A request whose response headers keep every repeated field (WWW-Authenticate)."""
    host, _, port = url.split("://", 1)[1].split("/", 1)[0].rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        fields: dict[str, list[str]] = {}
        for key, value in resp.getheaders():
            fields.setdefault(key.lower(), []).append(value)
        return resp.status, fields, resp.read()
    finally:
        conn.close()


# --- tokens, the gateway, nginx + forward-auth ------------------------------------

# The tokens every client is tried with. `rx` is what `opencode attach` needs
# (/agent, /config, /config/providers, /provider need execute); `rwx` is what the web
# app needs to work fully; `r` lacks execute.
TOKEN_PERMISSIONS = {"rwx": "read,write,execute", "rx": "read,execute", "r": "read"}


@dataclass
class Tokens:
    path: Path
    secrets: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def make_tokens(path: Path) -> Tokens:
    from core.store import TokenStore

    store = TokenStore(path)
    tokens = Tokens(path)
    for name, permissions in TOKEN_PERMISSIONS.items():
        issued = store.create(name=name, permissions=permissions, expires="1d")
        tokens.secrets[name] = issued.secret.reveal()
        tokens.ids[name] = issued.record.id
    return tokens


def unissued_token() -> str:
    """A well-formed token that no store of the tests holds (issued in a scratch
    store that is removed at once)."""
    from core.store import TokenStore

    scratch = Path(tempfile.mkdtemp(prefix="oat-scratch-"))
    try:
        issued = TokenStore(scratch / "auth-tokens.json").create(name="elsewhere")
        return issued.secret.reveal()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class Front:
    """What a client talks to instead of opencode: the gateway, or nginx or Caddy
    asking forward-auth. `decider` is the gateway or forward-auth (the real CLI); its stdout
    is its access log, one JSON line per request decided."""

    kind: str  # "gateway", "nginx" or "caddy"
    url: str
    decider: Any  # tests.gateway.processes.Child
    nginx: Any = None  # the proxy: real_servers.NginxProcess, or CaddyProcess

    def mark(self) -> int:
        """Where the access log is now, once the lines of what came before are in
        (they are written in batches, and a stream's when it ends - a previous
        client's may come late): pass it to `access(since=...)`."""
        self.settle()
        return len(self.decider.out)

    def access(self, since: int = 0) -> list[dict[str, Any]]:
        rows = []
        for line in list(self.decider.out)[since:]:
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict) and "status" in row:
                    rows.append(row)
        return rows

    def rows(self, since: int, count: int) -> list[dict[str, Any]]:
        """The access log since `since`, once it holds at least `count` rows (a line
        is written as the answer goes out, and read from the pipe by a thread)."""
        wait_until(lambda: len(self.access(since)) >= count, f"{count} access-log rows")
        return self.access(since)

    def settle(self, since: int = 0, quiet: float = 0.5) -> list[dict[str, Any]]:
        """The access log once no line has arrived for `quiet` seconds (a request
        is logged when it ends: a WebSocket when the browser closes it)."""
        count = -1
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            now = len(self.decider.out)
            if now == count:
                break
            count = now
            time.sleep(quiet)
        return self.access(since)

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        self.decider.stop()


def start_gateway(tokens: Tokens, server: Server) -> Front:
    """`opencode-auth-tui gateway` in front of `server`, serving opencode's own
    directory (the default), once it has learned it."""
    from tests.gateway import processes

    child = processes.gateway(tokens.path, server.url, password=server.password)
    try:
        url = child.listening_url()
        child.wait_for("serving the directories")
    except BaseException:
        child.stop()
        raise
    return Front("gateway", url, child)


def start_nginx_front(tokens: Tokens, server: Server, nginx_binary: str) -> Front:
    """nginx with the README's auth_request config (tests/gateway/real_servers.NGINX_SITE)
    and forward-auth serving opencode's directory, asking opencode for sessions."""
    from tests.gateway import processes

    real_servers = _real_servers()
    child = processes.forward_auth(
        tokens.path,
        upstream=server.url,
        directories=[str(server.project)],
        password=server.password,
    )
    try:
        forward_auth_url = child.listening_url()
        child.wait_for("serving the directories")
        nginx = real_servers.start_nginx(
            nginx_binary, server.url, forward_auth_url, server.password
        )
    except BaseException:
        child.stop()
        raise
    return Front("nginx", nginx.url, child, nginx)


@dataclass
class CaddyProcess:
    """Caddy run with the README's Caddyfile (tests/gateway/real_servers.CADDYFILE)."""

    url: str
    proc: subprocess.Popen[bytes]
    folder: Path  # its config, storage and log

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_caddy_front(tokens: Tokens, server: Server, caddy_binary: str) -> Front:
    """Caddy with the README's forward_auth config and forward-auth serving opencode's
    directory; `Front.nginx` holds the Caddy process (whatever stops the proxy)."""
    from tests.gateway import processes

    real_servers = _real_servers()
    child = processes.forward_auth(
        tokens.path,
        upstream=server.url,
        directories=[str(server.project)],
        password=server.password,
    )
    folder = Path(tempfile.mkdtemp(prefix="oat-caddy-"))
    try:
        forward_auth_url = child.listening_url()
        child.wait_for("serving the directories")
        port = real_servers._free_port()
        conf = folder / "Caddyfile"
        conf.write_text(
            real_servers.CADDYFILE.format(
                tmp=folder,
                port=port,
                forward_auth=forward_auth_url.split("://", 1)[1],
                upstream=server.url.split("://", 1)[1],
                authorization=real_servers.basic(server.password),
            )
        )
        env = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder)}
        env["XDG_CONFIG_HOME"] = str(folder)
        with (folder / "caddy.log").open("w") as log:
            proc = subprocess.Popen(
                [caddy_binary, "run", "--config", str(conf), "--adapter", "caddyfile"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        caddy = CaddyProcess(f"http://127.0.0.1:{port}", proc, folder)
        try:
            real_servers.wait_until_healthy(caddy.url, None, time.monotonic() + 20)
        except RuntimeError:
            text = (folder / "caddy.log").read_text()[-2000:]
            caddy.stop()
            raise RuntimeError("caddy did not start:\n" + text) from None
    except BaseException:
        child.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Front("caddy", caddy.url, child, caddy)


def static_file(path: str) -> bool:
    """A static file of the web app, by the route policy (what opencode's catch-all serves)."""
    from core.authz.policy import DirectoryFrom, default_policy

    rule = default_policy().classify("GET", path).rule
    return rule is not None and rule.directory is DirectoryFrom.WEBAPP


def refusals(rows: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    """(method, path, status, reason) of every access-log row that is not a success;
    `client_gone` (the browser closed a stream or socket at the end) is no refusal."""
    return [
        (r["method"], r["path"], r["status"], r["reason"])
        for r in rows
        if r["status"] >= 400 and r["reason"] != "client_gone"
    ]


# --- polling ----------------------------------------------------------------------


def wait_until(
    probe: Callable[[], Any],
    what: str,
    timeout: float = WAIT,
    interval: float = 0.2,
    pause: Callable[[float], None] = time.sleep,
) -> Any:
    """Call `probe` until it returns something truthy; fail with `what` after `timeout`.

    With Playwright's sync API pass `pause=page_pause(page)`: its events (requests,
    WebSocket frames) are only delivered while Playwright itself is waiting."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        pause(interval)


def page_pause(page: Any) -> Callable[[float], None]:
    return lambda seconds: page.wait_for_timeout(seconds * 1000)


# --- opencode attach under tmux ---------------------------------------------------


def client_env(home: Path) -> dict[str, str]:
    """A clean environment for a client process: its own HOME and XDG folders, no
    OPENCODE_* variables from the caller (OPENCODE_SERVER_PASSWORD above all)."""
    for sub in (".config", ".local/share", ".cache", ".local/state"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "SHELL": "/bin/sh",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


class Tmux:
    """One program in a private tmux server; `close` kills that server and nothing else."""

    def __init__(self, binary: str, width: int = 120, height: int = 36) -> None:
        self.binary = binary
        self.socket = f"oat-clients-{os.getpid()}-{secrets.token_hex(4)}"
        self.width = width
        self.height = height
        self.home = Path(tempfile.mkdtemp(prefix="oat-client-"))
        self.started = False

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
            env=client_env(self.home),
        )

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        """Run argv in a pane; when it ends, the pane shows `[exit N]` and stays."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = (
            f"cd {shlex.quote(str(cwd))} && env -i {exports} {shlex.join(argv)}; "
            'echo "[exit $?]"; exec sleep 86400'
        )
        self._tmux(
            "-u",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "sh",
            "-c",
            script,
        )
        self.started = True

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "main").stdout

    def text(self) -> str:
        """The screen with wrapped lines joined again (capture-pane -J), blank lines
        dropped: what a program printed, whatever the pane's width."""
        out = self._tmux("capture-pane", "-p", "-J", "-t", "main").stdout
        return "\n".join(line.rstrip() for line in out.splitlines() if line.strip())

    def send_keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "main", *keys)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = WAIT) -> str:
        last = ""

        def probe() -> str | None:
            nonlocal last
            last = self.screen()
            return last if predicate(last) else None

        try:
            return str(wait_until(probe, what, timeout))
        except AssertionError:
            raise AssertionError(f"gave up waiting for {what}; the screen:\n{last}") from None

    def close(self) -> None:
        if self.started:
            self._tmux("kill-server", check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def attach_argv(opencode: str, url: str, password: str, *extra: str) -> list[str]:
    return [opencode, "attach", url, "-p", password, *extra]


def attach_connected(screen: str) -> bool:
    """opencode's TUI shows its prompt ("Ask anything…") only once it is connected."""
    return "Ask anything" in screen


# --- the web app in Chromium --------------------------------------------------------


def projects_seed(*directories: Path) -> str:
    """An init script that makes the web app know these projects, as if the user had
    opened them before: the app keeps its project list in localStorage, not on the
    server, and a fresh profile would otherwise show no project and no session."""
    worktrees = [str(d) for d in directories]
    value = json.dumps(
        {
            "list": [],
            "projects": {"local": [{"worktree": w, "expanded": True} for w in worktrees]},
            "lastProject": {"local": worktrees[0]} if worktrees else {},
            "recentlyClosed": {},
        }
    )
    key = json.dumps("opencode.global.dat:server")
    return f"if (!localStorage.getItem({key})) localStorage.setItem({key}, {json.dumps(value)});"


def password_login(server: Server) -> dict[str, str]:
    """The browser's Basic login to opencode itself, with its password (Playwright's
    `http_credentials` answer its challenge as a person fills in the prompt)."""
    return {"username": "opencode", "password": server.password}


# --- signing in to a front ----------------------------------------------------------

LOGIN_PATH = "/_auth/login"
PAIR_PATH = "/_auth/pair"


def is_sign_in_page(url: str) -> bool:
    """The URL is one of the fronts' sign-in pages (`/_auth/...`)."""
    return urllib.parse.urlsplit(url).path.startswith("/_auth/")


def sign_in(page: Any, base: str, token: str, path: str = "/") -> Any:
    """What a person does now: open `base + path` without a session, meet the login
    page (the front's 303 there), paste the token, press "Sign in", and land back on
    `path` with a session cookie. Returns the answer to that last navigation."""
    page.goto(base + path)
    where = urllib.parse.urlsplit(page.url)
    assert where.path == LOGIN_PATH, f"expected the login page, got {page.url}"
    assert urllib.parse.parse_qs(where.query).get("next") == [path], page.url
    page.get_by_label("API token").fill(token)
    with page.expect_navigation(url=base + path, timeout=WAIT * 1000) as landed:
        page.get_by_role("button", name="Sign in").click()
    return landed.value


def is_sign_in_row(row: dict[str, Any]) -> bool:
    """An access-log row of signing in, not of the app: a sign-in page, or the first
    navigation without a session sent to the login page (the gateway's 303; through
    nginx forward-auth's 401 `login_redirect`, which nginx's config turns into it)."""
    return (
        str(row["path"]).startswith("/_auth/")
        or row["status"] == 303
        or row["reason"] == "login_redirect"
    )


def app_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the app's own requests, once the browser signed in; fails when the
    walk did not sign in through the login page at all."""
    signing_in = [r for r in rows if is_sign_in_row(r)]
    assert any(r["path"] == LOGIN_PATH and r["method"] == "POST" for r in signing_in), rows
    return [r for r in rows if not is_sign_in_row(r)]


def session_cookies(context: Any) -> list[dict[str, Any]]:
    """The browser's sign-in cookies (`oat_session`, `__Host-oat_session`)."""
    return [c for c in context.cookies() if c["name"].endswith("oat_session")]


@contextlib.contextmanager
def browser(
    playwright: Any,
    chromium: str,
    http_credentials: dict[str, str] | None = None,
    viewport: tuple[int, int] = (1280, 800),
    hosts: dict[str, str] | None = None,
    *,
    ignore_certificate_errors: bool = False,
) -> Iterator[Any]:
    """A Chromium with a fresh empty profile; yields its BrowserContext.

    `hosts` maps names to addresses inside this browser only ({"oc.test":
    "127.0.0.1"}), so a page can be loaded from a name that is not loopback: opencode
    trusts any http://127.0.0.1:* or http://localhost:* Origin, and only a real name
    shows whether a proxy keeps Origin and Host consistent (connect-token needs it).
    `ignore_certificate_errors` lets it use a gateway's throw-away TLS certificate."""
    profile = Path(tempfile.mkdtemp(prefix="oat-chromium-"))
    args = list(CHROMIUM_ARGS)
    if hosts:
        args.append("--host-resolver-rules=" + ", ".join(f"MAP {n} {a}" for n, a in hosts.items()))
    if ignore_certificate_errors:
        args.append("--ignore-certificate-errors")
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium,
        args=args,
        headless=True,
        http_credentials=http_credentials,
        viewport={"width": viewport[0], "height": viewport[1]},
        ignore_https_errors=ignore_certificate_errors,
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Seen:
    method: str
    url: str
    kind: str  # Playwright's resource type: document, script, fetch, websocket, ...
    headers: dict[str, str]  # x-opencode-* and the Authorization scheme (never its value)
    phase: str
    body_keys: tuple[str, ...] = ()  # the top-level keys of a JSON object body
    status: int | None = None  # the response's status (None: no response, or a WebSocket)


@dataclass
class RequestLog:
    """Every request the pages of a context make, WebSockets and their frames included."""

    phase: str = "load"
    seen: list[Seen] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)  # text received on WebSockets

    def __post_init__(self) -> None:
        # keyed by id(); the request is kept so that its id is not reused
        self._by_request: dict[int, tuple[Any, Seen]] = {}

    def watch(self, context: Any) -> None:
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def _watch_page(self, page: Any) -> None:
        page.on("websocket", self._on_websocket)

    def _on_request(self, request: Any) -> None:
        headers = {}
        for key, value in request.headers.items():
            if key.startswith("x-opencode-"):
                headers[key] = value
            elif key == "authorization":
                headers[key] = value.split(" ", 1)[0]
        body_keys: tuple[str, ...] = ()
        with contextlib.suppress(Exception):  # no body, or not JSON
            body = json.loads(request.post_data or "")
            if isinstance(body, dict):
                body_keys = tuple(sorted(body))
        seen = Seen(
            request.method, request.url, request.resource_type, headers, self.phase, body_keys
        )
        self.seen.append(seen)
        self._by_request[id(request)] = (request, seen)

    def _on_response(self, response: Any) -> None:
        found = self._by_request.get(id(response.request))
        if found is not None and found[0] is response.request:
            found[1].status = response.status

    def _on_websocket(self, ws: Any) -> None:
        self.seen.append(Seen("GET", ws.url, "websocket", {}, self.phase))

        def received(payload: str | bytes) -> None:
            if isinstance(payload, bytes):
                payload = payload.decode("utf-8", "replace")
            self.frames.append(payload)

        ws.on("framereceived", received)

    def terminal_text(self) -> str:
        """What the terminals printed, escape sequences removed."""
        return re.sub(
            r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b\][^\x07]*\x07",
            "",
            "".join(self.frames),
        )

    def websockets(self) -> list[Seen]:
        return [s for s in self.seen if s.kind == "websocket"]


@contextlib.contextmanager
def serve_page(html: str) -> Iterator[int]:
    """A page of another origin: `html` at / on a free loopback port (yielded)."""
    body = html.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


TEST_HOST = "oc.test"  # resolved to 127.0.0.1 by `browser(hosts=...)` only


def with_host(url: str, name: str) -> str:
    """`url` with its host name replaced (the port kept)."""
    split = urllib.parse.urlsplit(url)
    netloc = name + (f":{split.port}" if split.port else "")
    return urllib.parse.urlunsplit(split._replace(netloc=netloc))


def _pty_created(log: RequestLog, after: int) -> bool:
    return any(
        seen.method == "POST" and urllib.parse.urlsplit(seen.url).path == "/pty"
        for seen in log.seen[after:]
    )


def open_terminal(page: Any, log: RequestLog, timeout: float = WAIT) -> None:
    """Open a terminal the way a user does (ctrl+` toggles it), and wait until the
    shell has printed something over the WebSocket.

    The key is pressed again only when the app did not act on it at all (no
    `POST /pty` followed): pressing it while the terminal is still on its way
    would close the panel again."""
    page.locator("[contenteditable], textarea").first.wait_for(timeout=timeout * 1000)
    pause = page_pause(page)
    deadline = time.monotonic() + timeout
    while True:
        before = len(log.seen)
        page.keyboard.press("Control+Backquote")
        with contextlib.suppress(AssertionError):
            wait_until(
                functools.partial(_pty_created, log, before), "POST /pty", timeout=5, pause=pause
            )
            break
        if time.monotonic() > deadline:
            raise AssertionError("the web app did not ask for a terminal (no POST /pty)")
    frames = len(log.frames)
    page.locator("[data-component=terminal]").first.wait_for(timeout=timeout * 1000)
    wait_until(lambda: len(log.frames) > frames, "the shell's first output", pause=pause)


def run_in_terminal(page: Any, log: RequestLog, command: str, expect: str) -> None:
    """Type `command` and Enter in the open terminal; wait until `expect` comes back."""
    page.locator("[data-component=terminal]").first.click()
    page.keyboard.type(command + "\n")
    wait_until(lambda: expect in log.terminal_text(), repr(expect), pause=page_pause(page))


ECHO_COMMAND = "echo oat-$((6*7))"  # the shell prints oat-42; the typed line does not
ECHO_OUTPUT = "oat-42"


def walk_to_terminal(context: Any, base: str, log: RequestLog, token: str | None = None) -> Any:
    """What a person does first: open the app at `base` (signing in with `token` on
    the way, for a front), see the session list, open the session, open a terminal
    and run a command. Returns the page, terminal open."""
    log.watch(context)
    page = context.new_page()
    log.phase = "load"
    if token is None:
        page.goto(base + "/")
    else:
        sign_in(page, base, token)
    session = page.get_by_text(SESSION_TITLE).first
    session.wait_for(timeout=WAIT * 1000)
    log.phase = "session"
    session.click()
    log.phase = "terminal"
    open_terminal(page, log)
    run_in_terminal(page, log, ECHO_COMMAND, ECHO_OUTPUT)
    return page


def first_load_ms(
    playwright: Any,
    chromium: str,
    base: str,
    credentials: dict[str, str] | None,
    project: Path,
    token: str | None = None,
) -> float:
    """Milliseconds from navigation start to the session list visible, in a fresh
    profile that knows the project (performance.now() counts from the navigation's
    start; a Basic challenge's round trip is included). With `token` the browser
    signs in first, on the login page (not timed: the load after it is)."""
    with browser(playwright, chromium, credentials) as context:
        context.add_init_script(projects_seed(project))
        page = context.new_page()
        if token is not None:
            sign_in(page, base, token, "/path")  # a small JSON answer, not the app
        page.goto(base + "/", wait_until="commit")
        handle = page.wait_for_function(
            "t => document.body && document.body.innerText.includes(t) && performance.now()",
            arg=SESSION_TITLE,
            polling="raf",
            timeout=WAIT * 1000,
        )
        return float(handle.json_value())


def document_responses(context: Any, page: Any) -> list[tuple[int, list[tuple[str, str]]]]:
    """Record the status and raw headers (every repeated field on its own) of the
    responses to `page`'s navigations, as Chromium received them (the DevTools
    protocol: Playwright reports no response for a navigation that ends in an
    unanswered auth challenge). Returns the list, filled as they arrive."""
    cdp = context.new_cdp_session(page)
    documents: set[str] = set()
    raw: dict[str, tuple[int, list[tuple[str, str]]]] = {}
    out: list[tuple[int, list[tuple[str, str]]]] = []

    def extra(event: dict[str, Any]) -> None:
        fields = [
            (name, value)
            for name, joined in event["headers"].items()
            for value in joined.split("\n")
        ]
        raw[event["requestId"]] = (int(event["statusCode"]), fields)
        if event["requestId"] in documents:
            out.append(raw[event["requestId"]])

    def received(event: dict[str, Any]) -> None:
        if event.get("type") == "Document":
            documents.add(event["requestId"])
            if event["requestId"] in raw:
                out.append(raw[event["requestId"]])

    cdp.on("Network.responseReceivedExtraInfo", extra)
    cdp.on("Network.responseReceived", received)
    cdp.send("Network.enable")
    return out


# --- the JS SDK -------------------------------------------------------------------


def run_sdk(
    url: str,
    token: str,
    scheme: str = "bearer",
    directory: Path | None = None,
    node: str = "node",
) -> tuple[int, dict[str, Any]]:
    """tests/clients/sdk_list_sessions.mjs; (exit status, its JSON line)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPENCODE_URL": url,
        "OPENCODE_TOKEN": token,
        "OPENCODE_AUTH_SCHEME": scheme,
        "OPENCODE_SDK_DIR": str(SDK_DIR),
    }
    if directory is not None:
        env["OPENCODE_DIRECTORY"] = str(directory)
    proc = subprocess.run(
        [node, str(SDK_SCRIPT)], capture_output=True, text=True, timeout=120, env=env
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {"unparsed": proc.stdout}
    if not lines:
        result = {"stderr": proc.stderr[-2000:]}
    return proc.returncode, result
