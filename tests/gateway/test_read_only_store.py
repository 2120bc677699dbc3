"""A gateway or forward-auth on a token store it cannot write: said once at start
("the token store is read-only: last_used_at will not be recorded ..."), and
then never tried - not a failed write and a warning every 5 s for as long as it
runs. And the lock file's error says what is wrong with it.

Permissions mean nothing to root, so the cases that need them run the real
command as the unprivileged `nobody` (setpriv) when the tests run as root; a
store file without its owner's write bit is refused by the engine itself, for
root too.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from core.gateway.usage import MAX_BACKOFF, UsageRecorder
from core.store import TokenStore
from tests.gateway import processes, real_servers

READ_ONLY = (
    "opencode-auth-tui: warning: the token store is read-only ({why}): last_used_at will "
    "not be recorded (pass --no-last-used to silence this)"
)
NOBODY = 65534


def ask(url: str, token: str) -> int:
    """One forward-auth decision for `GET /vcs` in a directory of its own (forward-auth
    here serves any and asks no opencode) with `token`; its status."""
    status, _, _ = real_servers.request(
        url,
        path="/auth",
        headers={
            "X-Original-Method": "GET",
            "X-Original-URI": "/vcs?directory=/srv/project",
            "Authorization": f"Bearer {token}",
        },
    )
    return status


def store_with_a_token(folder: Path) -> tuple[Path, str]:
    path = folder / "auth-tokens.json"
    issued = TokenStore(path).create(name="reader", permissions="read")
    return path, issued.secret.reveal()


def warnings_of(child: processes.Child) -> list[str]:
    """What it warned about the store (not the loud --any-directory box)."""
    return [line for line in child.err if ": warning: " in line and "store" in line]


# --- the recorder: once per failure, less and less often ------------------------------


async def test_the_same_failure_is_said_once_until_a_write_works() -> None:
    failures = ["disk full", "disk full", "disk full", "locked", None, "disk full"]
    warnings: list[str] = []

    def write(batch: object) -> None:
        failure = failures.pop(0)
        if failure is not None:
            raise OSError(failure)

    usage = UsageRecorder(write, warn=warnings.append, min_interval=0)
    for _ in range(6):
        usage.seen("a")
        await usage.flush()
    assert warnings == [
        "could not record last_used_at (will retry): disk full",
        "could not record last_used_at (will retry): locked",
        "could not record last_used_at (will retry): disk full",  # again, after a success
    ]
    assert usage.writes == 1


async def test_failed_rounds_double_the_wait_up_to_a_cap() -> None:
    broken = True

    def write(batch: object) -> None:
        if broken:
            raise OSError("read-only file system")

    usage = UsageRecorder(write, min_interval=0)
    waits = [usage.backoff]
    for _ in range(9):
        usage.seen("a")
        await usage.flush()
        waits.append(usage.backoff)
    assert waits == [1, 2, 4, 8, 16, 32, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
    assert "a" in usage.pending  # the use is kept, not dropped
    broken = False
    await usage.flush()
    assert usage.backoff == 1 and usage.pending == {}


async def test_the_background_task_waits_the_backoff() -> None:
    """With flush_every 0.05 s, a broken store is tried about 1+2+4 rounds apart:
    a handful of tries in a second, not twenty."""
    tries: list[float] = []

    def write(batch: object) -> None:
        tries.append(time.monotonic())
        raise OSError("nope")

    usage = UsageRecorder(write, min_interval=0, flush_every=0.05)
    usage.seen("a")
    usage.start()
    try:
        import asyncio

        await asyncio.sleep(1.0)
    finally:
        await usage.close()
    assert 3 <= len(tries) <= 6, tries


# --- at start: said once, never tried --------------------------------------------------


def test_a_store_file_without_write_permission_is_said_once_and_never_tried(
    tmp_path: Path,
) -> None:
    path, secret = store_with_a_token(tmp_path)
    os.chmod(path, 0o400)
    before = path.read_bytes()
    with processes.forward_auth(path) as fa:
        url = fa.listening_url()
        assert ask(url, secret) == 200
        time.sleep(6)  # more than a round of the old 5 s retries
        assert ask(url, secret) == 200
        assert fa.stop() == 0
    why = f"{path} has no write permission for its owner (mode 0400)"
    assert warnings_of(fa) == [READ_ONLY.format(why=why)]
    assert not any("could not record" in line for line in fa.err)
    assert path.read_bytes() == before


def test_no_last_used_silences_it(tmp_path: Path) -> None:
    path, secret = store_with_a_token(tmp_path)
    os.chmod(path, 0o400)
    with processes.forward_auth(path, "--no-last-used") as fa:
        url = fa.listening_url()
        assert ask(url, secret) == 200
        assert fa.stop() == 0
    assert warnings_of(fa) == []


def test_a_writable_store_is_not_called_read_only_and_gets_last_used(tmp_path: Path) -> None:
    path, secret = store_with_a_token(tmp_path)
    with processes.forward_auth(path) as fa:
        url = fa.listening_url()
        assert ask(url, secret) == 200
        assert fa.stop() == 0  # shutdown writes what is pending
    assert warnings_of(fa) == []
    (record,) = TokenStore(path).tokens()
    assert isinstance(record.last_used_at, datetime)


# --- as a user the permissions apply to ---------------------------------------------------


@pytest.fixture
def own_folder() -> Iterator[Path]:
    """A store folder of the unprivileged user's own, with a token in it (as root:
    owned by `nobody`; else: by whoever runs the tests)."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        real_servers.missing("setpriv is not installed (util-linux): cannot drop root")
    folder = Path(tempfile.mkdtemp(prefix="oat-read-only-"))
    os.chmod(folder, 0o700)
    store_with_a_token(folder)
    TokenStore(folder / "auth-tokens.json").create(name="lock-made")  # the lock file exists
    if os.geteuid() == 0:
        for path in (folder, *folder.iterdir()):
            os.chown(path, NOBODY, NOBODY)
    try:
        yield folder
    finally:
        os.chmod(folder, 0o700)
        shutil.rmtree(folder, ignore_errors=True)


def unprivileged(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        unprivileged([*processes.cli_command(), *args]),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        check=False,
    )


@pytest.mark.parametrize("case", ["folder", "lock"])
def test_what_keeps_it_from_writing_is_named_at_start(own_folder: Path, case: str) -> None:
    path = own_folder / "auth-tokens.json"
    lock = own_folder / "auth-tokens.json.lock"
    if case == "folder":
        os.chmod(own_folder, 0o500)
        why = f"cannot create files in its folder {own_folder}: permission denied"
    else:
        os.chmod(lock, 0o400)
        why = f"cannot open the lock file {lock}: permission denied"
    before = path.read_bytes()
    argv = [*processes.cli_command(), "--store", str(path), "forward-auth", "--any-directory"]
    with processes.Child(unprivileged([*argv, "--listen", "127.0.0.1:0"])) as fa:
        fa.listening_url()
        assert fa.stop() == 0
    assert warnings_of(fa) == [READ_ONLY.format(why=why)]
    assert path.read_bytes() == before


def test_the_lock_file_error_says_open_when_it_exists(own_folder: Path) -> None:
    path = own_folder / "auth-tokens.json"
    os.chmod(own_folder / "auth-tokens.json.lock", 0o400)
    before = path.read_bytes()
    result = cli("--store", str(path), "token", "create", "--name", "new")
    assert result.returncode == 3, result.stderr
    assert result.stderr == (
        f"opencode-auth-tui: error: {path}: cannot open the lock file auth-tokens.json.lock: "
        "permission denied\n"
    )
    assert path.read_bytes() == before


def test_the_lock_file_error_says_create_when_it_is_missing(own_folder: Path) -> None:
    path = own_folder / "auth-tokens.json"
    (own_folder / "auth-tokens.json.lock").unlink()
    os.chmod(own_folder, 0o500)
    before = path.read_bytes()
    result = cli("--store", str(path), "token", "create", "--name", "new")
    assert result.returncode == 3, result.stderr
    assert result.stderr == (
        f"opencode-auth-tui: error: {path}: cannot create the lock file "
        "auth-tokens.json.lock: permission denied\n"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in own_folder.iterdir()) == ["auth-tokens.json"]


def test_the_folder_check_sees_a_store_it_can_write(own_folder: Path) -> None:
    """The same user, nothing read-only: no warning (the check is not just 'not root')."""
    path = own_folder / "auth-tokens.json"
    argv = [*processes.cli_command(), "--store", str(path), "forward-auth", "--any-directory"]
    with processes.Child(unprivileged([*argv, "--listen", "127.0.0.1:0"])) as fa:
        fa.listening_url()
        assert fa.stop() == 0
    assert warnings_of(fa) == []
    assert stat.S_IMODE(own_folder.stat().st_mode) == 0o700
