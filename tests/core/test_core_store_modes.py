"""File 0600 and folder 0700 whatever the umask; stale temporary files swept."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.store import TokenStore
from core.store.file.atomic import remove_stale_temps
from tests.core.core_helpers import FakeClock, run_python, temp_files


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_modes_with_umask_000_in_a_fresh_process(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir(mode=0o755)
    os.chmod(base, 0o755)
    store_path = base / "xdg" / "opencode" / "auth-tokens.json"
    legacy_path = base / "legacy" / "auth-tokens.json"
    code = textwrap.dedent(
        f"""
        import json, os
        from pathlib import Path
        os.umask(0)
        from core.store import TokenStore
        TokenStore(Path({str(store_path)!r})).create(name="a")
        legacy = Path({str(legacy_path)!r})
        legacy.parent.mkdir()
        os.chmod(legacy.parent, 0o755)  # StrictModes: not writable by others
        legacy.write_text(json.dumps([{{"token": "x" * 32, "permissions": ["read"],
                                        "createdAt": 0}}]))
        os.chmod(legacy, 0o644)  # StrictModes: not writable by others
        print(TokenStore(legacy).migrate().backup)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    backup = Path(result.stdout.strip())

    assert mode(store_path) == 0o600
    assert mode(store_path.with_name("auth-tokens.json.lock")) == 0o600
    assert mode(store_path.parent) == 0o700  # .../opencode
    # A missing parent is created private too (XDG: "create it with 0700"),
    # not world-writable as umask 000 would make it.
    assert mode(base / "xdg") == 0o700
    assert mode(base) == 0o755  # an existing folder is left alone
    assert mode(legacy_path) == 0o600
    assert mode(backup) == 0o600
    # A folder the caller made itself is not core's to change.
    assert mode(legacy_path.parent) == 0o755


def test_an_existing_config_folder_keeps_its_mode(tmp_path: Path, clock: FakeClock) -> None:
    folder = tmp_path / "opencode"
    folder.mkdir()
    os.chmod(folder, 0o755)  # opencode's own folder: not ours to change
    TokenStore(folder / "auth-tokens.json", clock=clock).create(name="a")
    assert mode(folder) == 0o755
    assert mode(folder / "auth-tokens.json") == 0o600


MUTATIONS: list[tuple[str, Callable[[TokenStore], object]]] = [
    ("create", lambda s: s.create(name="new")),
    ("delete", lambda s: s.delete(["keep-2"])),
    ("rotate", lambda s: s.rotate("keep")),
    ("prune", lambda s: s.prune()),
    ("record_usage", lambda s: s.record_usage({s.get("keep").id: datetime.now(UTC)})),
]


@pytest.mark.parametrize(("name", "mutate"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_readable_file_becomes_0600_after_any_write(
    store: TokenStore, clock: FakeClock, name: str, mutate: Callable[[TokenStore], object]
) -> None:
    store.create(name="keep")
    store.create(name="keep-2")
    store.create(name="short", expires="1h")
    clock.advance(hours=2)  # so prune has something to do
    os.chmod(store.path, 0o644)
    assert store.load().warnings  # warned about while readable by others
    before = store.path.read_bytes()
    mutate(store)
    assert store.path.read_bytes() != before, "the call must have written"
    assert mode(store.path) == 0o600
    assert store.load().warnings == ()


# --- stale temporary files ---------------------------------------------------------------


def test_the_next_write_sweeps_stale_temp_files(store: TokenStore) -> None:
    store.create(name="a")
    folder = store.path.parent
    stale = [folder / f".auth-tokens.json.{h}.tmp" for h in ("0123456789ab", "deadbeef0000")]
    for p in stale:
        p.write_text("half a write")
    # Files that are not this store's temp files stay.
    others = [
        folder / ".auth-tokens.json.work.0123456789ab.tmp",  # another store's temp file
        folder / ".auth-tokens.json.notes.tmp",
        folder / "auth-tokens.json.pr8217-backup-20260101T000000Z",
        folder / "other.json",
    ]
    for p in others:
        p.write_text("keep me")
    store.load()  # reading takes no lock and sweeps nothing
    assert all(p.exists() for p in stale)
    store.create(name="b")
    assert not any(p.exists() for p in stale)
    assert all(p.read_text() == "keep me" for p in others)


def test_sweeping_leaves_another_stores_temp_files(tmp_path: Path) -> None:
    # Regression: the sweep matched any `.auth-tokens.json.*.tmp`, so a store
    # named auth-tokens.json deleted the in-flight temp file of a neighbour
    # named auth-tokens.json.work (whose lock it does not hold).
    target = tmp_path / "auth-tokens.json"
    neighbour_temp = tmp_path / ".auth-tokens.json.work.a1b2c3d4e5f6.tmp"
    own_temp = tmp_path / ".auth-tokens.json.a1b2c3d4e5f6.tmp"
    neighbour_temp.write_text("x")
    own_temp.write_text("x")
    remove_stale_temps(target)
    assert neighbour_temp.exists()
    assert not own_temp.exists()


def test_failed_writes_leave_no_temp_and_successful_ones_neither(store: TokenStore) -> None:
    for i in range(5):
        store.create(name=f"t{i}")
    assert temp_files(store.path.parent) == []
    assert sorted(os.listdir(store.path.parent)) == ["auth-tokens.json", "auth-tokens.json.lock"]
    assert len(json.loads(store.path.read_text())["tokens"]) == 5
