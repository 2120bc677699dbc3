"""Drivers for opencode's own clients, for tests and for the request recorder.

- `opencode attach` runs in a private tmux server (its own `-L` socket, so no other
  tmux is touched); the screen is read with capture-pane.
- The web app runs in Debian's Chromium through Playwright for Python
  (`executable_path`, a fresh empty profile per browser).
- The JS SDK runs as `node tests/clients/sdk_list_sessions.mjs`.

Nothing here asserts on durations: waits poll until a condition holds, with a
generous limit that only turns a hang into a readable failure.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
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


def start_server(binary: str) -> Server:
    """opencode on a free loopback port, in a git repository with one commit (the web
    app lists projects, and a project needs a repository), with one session."""
    real_servers = _real_servers()
    handle = real_servers.start_opencode(binary)
    project = Path(handle.home) / "project"
    try:
        git = ["git", "-C", str(project), "-c", "user.name=oat", "-c", "user.email=oat@localhost"]
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(handle.home)}
        subprocess.run(["git", "init", "-q", str(project)], check=True, env=env)
        subprocess.run([*git, "add", "."], check=True, env=env)
        subprocess.run([*git, "commit", "-q", "-m", "init"], check=True, env=env)
        server = Server(handle, project)
        server.create_session(SESSION_TITLE)
    except BaseException:
        real_servers.stop_opencode(handle)
        raise
    return server


def stop_server(server: Server) -> None:
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


@contextlib.contextmanager
def browser(
    playwright: Any,
    chromium: str,
    http_credentials: dict[str, str] | None = None,
    viewport: tuple[int, int] = (1280, 800),
    hosts: dict[str, str] | None = None,
) -> Iterator[Any]:
    """A Chromium with a fresh empty profile; yields its BrowserContext.

    `hosts` maps names to addresses inside this browser only ({"oc.test":
    "127.0.0.1"}), so a page can be loaded from a name that is not loopback: opencode
    trusts any http://127.0.0.1:* or http://localhost:* Origin, and only a real name
    shows whether a proxy keeps Origin and Host consistent (connect-token needs it)."""
    profile = Path(tempfile.mkdtemp(prefix="oat-chromium-"))
    args = list(CHROMIUM_ARGS)
    if hosts:
        args.append("--host-resolver-rules=" + ", ".join(f"MAP {n} {a}" for n, a in hosts.items()))
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium,
        args=args,
        headless=True,
        http_credentials=http_credentials,
        viewport={"width": viewport[0], "height": viewport[1]},
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


@dataclass
class RequestLog:
    """Every request the pages of a context make, WebSockets and their frames included."""

    phase: str = "load"
    seen: list[Seen] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)  # text received on WebSockets

    def watch(self, context: Any) -> None:
        context.on("request", self._on_request)
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
        self.seen.append(
            Seen(request.method, request.url, request.resource_type, headers, self.phase, body_keys)
        )

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


TEST_HOST = "oc.test"  # resolved to 127.0.0.1 by `browser(hosts=...)` only


def with_host(url: str, name: str) -> str:
    """`url` with its host name replaced (the port kept)."""
    split = urllib.parse.urlsplit(url)
    netloc = name + (f":{split.port}" if split.port else "")
    return urllib.parse.urlunsplit(split._replace(netloc=netloc))


def open_terminal(page: Any, timeout: float = WAIT) -> None:
    """Open a terminal the way a user does (ctrl+` toggles it) and wait for it."""
    page.locator("[contenteditable], textarea").first.wait_for(timeout=timeout * 1000)
    terminal = page.locator("[data-component=terminal]").first
    deadline = time.monotonic() + timeout
    while True:
        page.keyboard.press("Control+Backquote")
        with contextlib.suppress(Exception):
            terminal.wait_for(timeout=10_000)
            return
        if time.monotonic() > deadline:
            raise AssertionError("the web app did not open a terminal")


def type_in_terminal(page: Any, text: str) -> None:
    page.locator("[data-component=terminal]").first.click()
    page.keyboard.type(text)


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
