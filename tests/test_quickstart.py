"""The README's Quick start works when pasted line by line on a fresh machine.

The lines are read from the README's code block (not copied here) and typed, one by one,
into an interactive bash in a private tmux server, as a newcomer would paste them: a
temporary HOME (and XDG folders inside it), a clean environment, the working directory
a clone of this repository (this checkout). Each command must end with status 0 - or,
where the README shows an `Error:` line, fail - and print what the README shows under
it (`#  ` lines; `…` stands for any text). Then the gateway's access log and the store
prove that `opencode attach` got in with the full token and was refused with the
read-only one.

What differs from a fresh machine, and why:
- `npm install --prefix ~/.local/opencode opencode-ai@VERSION` is not run: it would fetch
  ~180 MB from the registry on every run. The test checks that the opencode CI installed
  (.ci/install-opencode.sh, or PATH) is that version, and links it where npm would have
  put it, so the README's PATH line is still what finds it.
- opencode's ports 4096 and 4097 become free ones, so a server already on them (another
  test, a real opencode) cannot answer in their place.
- opencode runs with OPENCODE_PURE=1 (what `--pure` sets; no plugins fetched from npm)
  and OPENCODE_DISABLE_AUTOUPDATE=1, as every test's opencode does.
- pip keeps the machine's own settings (PIP_* variables, its cache), so the fresh
  virtualenv installs from the same wheels as CI does, in about half a minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import tests.gateway.conftest  # noqa: F401  (it imports real_servers; importing that first is a cycle)
from tests.gateway.real_servers import find_opencode, missing

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PROMPT = re.compile(r"^@@(\d+)@@ ?(.*)$")
LOGS = ("opencode.log", "gateway.log")  # where the Quick start sends them
NPM_LINE = re.compile(r"^npm install --prefix ~/\.local/opencode opencode-ai@(\S+)$")


@dataclass
class Step:
    """One pasted line, and what the README shows it prints (empty: not shown)."""

    command: str
    shown: list[str] = field(default_factory=list)

    @property
    def interactive(self) -> bool:
        """`opencode attach` with nothing shown under it: opencode's TUI, left with ctrl+c."""
        return "opencode attach" in self.command and not self.shown

    @property
    def may_fail(self) -> bool:
        return bool(self.shown) and self.shown[0].startswith("Error:")


def quick_start_block(text: str) -> str:
    section = text[text.index("## Quick start") :]
    section = section[: section.index("\n## ")]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Quick start has one shell block"
    return str(blocks[0])


def steps(block: str) -> list[Step]:
    """Commands in order, each with the `#  ` lines under it; `# ` lines are comments."""
    out: list[Step] = []
    for line in block.splitlines():
        if line.startswith("#  "):
            out[-1].shown.append(line[3:])
        elif line.strip() and not line.startswith("#"):
            out.append(Step(line))
    return out


def matches(shown: list[str], printed: str) -> bool:
    """What was printed is what the README shows, `…` standing for any text."""
    pattern = ".*?".join(re.escape(piece) for piece in "\n".join(shown).split("…"))
    return re.fullmatch(pattern, printed.strip(), flags=re.S) is not None


def test_the_quick_start_is_short_and_self_contained() -> None:
    """At most ~40 lines from its heading to the next section, and nothing in it that
    needs a file from elsewhere than the clone it is run in."""
    section = README[README.index("## Quick start") :]
    section = section[: section.index("\n## ")]
    assert len(section.strip().splitlines()) <= 42
    parsed = steps(quick_start_block(README))
    assert NPM_LINE.match(parsed[0].command), parsed[0].command
    assert "'.[gateway]'" in parsed[1].command  # the gateway needs its extra
    assert not any(s.command.rstrip().endswith("\\") for s in parsed)  # one line each
    background = [s.command for s in parsed if s.command.rstrip().endswith("&")]
    assert background and all(">" in c and "2>&1" in c for c in background)  # no log spill


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Shell:
    """An interactive bash in a private tmux server: lines are typed into it, and each
    prompt (`@@STATUS@@`) marks where a command's output ends."""

    def __init__(self, tmux: str, home: Path, env: dict[str, str]) -> None:
        self.tmux = tmux
        self.socket = f"oat-quickstart-{os.getpid()}"
        self.home = home
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._run(
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "250",
            "-y",
            "50",
            "-c",
            str(ROOT),
            f"env -i {exports} bash --norc --noprofile -i",
        )
        self.wait_prompts(1, 30)

    def _run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout

    def transcript(self) -> list[str]:
        out = self._run("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "main")
        return [line.rstrip() for line in out.splitlines()]

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "main")

    def prompts(self) -> list[tuple[int, int]]:
        """(line number, status of the command before it) of each prompt."""
        found = []
        for number, line in enumerate(self.transcript()):
            m = PROMPT.match(line)
            if m:
                found.append((number, int(m.group(1))))
        return found

    def wait_prompts(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.prompts()) < count:
            if time.monotonic() > deadline:
                tail = "\n".join(self.transcript()[-40:])
                raise AssertionError(f"no prompt after {timeout:.0f} s; the shell:\n{tail}")
            time.sleep(0.2)

    def type(self, line: str) -> None:
        self._run("send-keys", "-t", "main", "-l", line)
        self._run("send-keys", "-t", "main", "Enter")

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "main", *keys)

    def close(self) -> None:
        subprocess.run(
            [self.tmux, "-L", self.socket, "-f", "/dev/null", "kill-server"],
            capture_output=True,
            timeout=30,
            check=False,
        )


@dataclass
class Run:
    shell: Shell
    home: Path
    env: dict[str, str]
    ports: tuple[int, int]
    pids: list[int] = field(default_factory=list)


def _environment(home: Path) -> dict[str, str]:
    """A fresh user's environment: its own HOME and XDG folders, system PATH, and the
    machine's pip settings (index, wheels, cache) so the install works offline as CI's."""
    python_bin = Path(sys.base_prefix) / "bin"  # a python3 of the required version
    env = {
        "HOME": str(home),
        "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_PURE": "1",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SHELL": "/bin/bash",
        "PS1": r"\n@@$?@@ ",
        "HISTFILE": "",  # bash writes no history into HOME as it is removed
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    }
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_") and k not in env})
    return env


@pytest.fixture
def run() -> Iterator[Run]:
    for tool in ("tmux", "curl", "git"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (Debian: apt-get install {tool})")
    if find_opencode() is None:
        missing("opencode is not installed: run .ci/install-opencode.sh (npm package opencode-ai)")
    tmux = shutil.which("tmux")
    assert tmux is not None
    home = Path(tempfile.mkdtemp(prefix="oat-quickstart-"))
    env = _environment(home)
    shell = Shell(tmux, home, env)
    result = Run(shell, home, env, (_free_port(), _free_port()))
    try:
        yield result
    finally:
        shell.close()
        for pid in result.pids:  # the servers the pasted lines started, if still there
            _stop(pid)
        shutil.rmtree(home, ignore_errors=True)


def _stop(pid: int) -> None:
    """SIGTERM, then SIGKILL after 10 s: opencode sometimes outlives a SIGTERM."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)


def _as_run(step: Step, run: Run) -> str:
    """The line as typed here: the npm install replaced (see the module's docstring),
    the two ports moved to free ones."""
    npm = NPM_LINE.match(step.command)
    if npm:
        binary = find_opencode()
        assert binary is not None
        version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
        assert version == npm.group(1), f"the installed opencode is {version}"
        target = "~/.local/opencode/node_modules/.bin"
        return f"mkdir -p {target} && ln -s {shlex.quote(binary)} {target}/opencode"
    opencode_port, gateway_port = run.ports
    line = step.command.replace("127.0.0.1:4096", f"127.0.0.1:{opencode_port}")
    line = line.replace("--port 4096", f"--port {opencode_port}")
    return line.replace("127.0.0.1:4097", f"127.0.0.1:{gateway_port}")


def _output(run: Run, index: int) -> tuple[str, int]:
    """What the index-th command printed, and its exit status."""
    lines = run.shell.transcript()
    prompts = [(n, int(m.group(1))) for n, line in enumerate(lines) if (m := PROMPT.match(line))]
    start, end = prompts[index][0], prompts[index + 1][0]
    printed = "\n".join(lines[start + 1 : end])
    for job in re.findall(r"^\[\d+\] (\d+)$", printed, flags=re.M):
        if int(job) not in run.pids:
            run.pids.append(int(job))
    return printed, prompts[index + 1][1]


def _access_log(home: Path) -> list[dict[str, object]]:
    entries = []
    for line in (home / "gateway.log").read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


@pytest.mark.slow
def test_the_quick_start_works_pasted_line_by_line(run: Run) -> None:
    shell = run.shell
    for index, step in enumerate(steps(quick_start_block(README))):
        shell.type(_as_run(step, run))
        if step.interactive:
            deadline = time.monotonic() + 90
            while "Ask anything" not in shell.screen():  # attach's TUI, connected
                assert time.monotonic() < deadline, f"attach did not connect:\n{shell.screen()}"
                time.sleep(0.3)
            for _ in range(5):  # ctrl+c leaves it, as the README says
                shell.keys("C-c")
                try:
                    shell.wait_prompts(index + 2, 5)
                    break
                except AssertionError:
                    continue
        timeout = 600 if "pip install" in step.command else 120
        shell.wait_prompts(index + 2, timeout)
        printed, status = _output(run, index)
        if step.may_fail:
            assert status != 0, (step.command, printed)
        else:
            assert status == 0, (step.command, status, printed)
        if step.shown:
            assert matches(step.shown, printed), (step.command, step.shown, printed)

    # what the tokens did, in the gateway's access log and the store
    tool = run.home / ".local" / "opencode-auth-tui" / "bin" / "opencode-auth-tui"
    listed = subprocess.run(
        [str(tool), "token", "list", "--json", "id,name,permissions"],
        capture_output=True,
        text=True,
        timeout=60,
        env=run.env,
        check=True,
    )
    ids = {t["name"]: t["id"] for t in json.loads(listed.stdout)}
    assert set(ids) == {"laptop", "dashboard"}, ids
    log = _access_log(run.home)
    attach_reads = {"GET /config/providers", "GET /provider", "GET /agent"}
    full = [e for e in log if e.get("token_id") == ids["laptop"]]
    assert attach_reads <= {str(e["rule"]) for e in full if e["status"] == 200}, full
    assert [e for e in full if e["status"] in (401, 403)] == []  # (503s: waiting for opencode)
    read_only = [e for e in log if e.get("token_id") == ids["dashboard"]]
    # attach's start-up reads that need execute (the curl line's GET /session aside)
    refused = [e for e in read_only if e["status"] == 403 and e["rule"] != "GET /session"]
    assert refused and all(e["reason"] == "insufficient_scope" for e in refused), read_only
    # the last line stopped both servers (the gateway lets in-flight requests finish)
    deadline = time.monotonic() + 40
    for name, port in zip(("opencode", "the gateway"), run.ports, strict=True):
        while _answers(port):
            if time.monotonic() > deadline:
                logs = [(run.home / log).read_text()[-1500:] for log in LOGS]
                raise AssertionError(f"{name} still answers 40 s after the kill: {logs}")
            time.sleep(0.2)


def _answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
