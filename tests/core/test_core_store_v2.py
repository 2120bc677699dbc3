"""Store version 2: notes, directories, `edit`; version 1 read as is, written as 2;
read-only stores refused; StrictModes (owner, modes, symlinks in shared folders)."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from core.model.errors import (
    DuplicateName,
    InvalidDirectory,
    InvalidNote,
    StoreCorrupt,
    StoreReadOnly,
    StoreUnsafe,
    TokenNotFound,
)
from core.store import TokenStore, read_snapshot
from tests.core.core_helpers import NOBODY, T0_S, FakeClock

V1 = {
    "version": 1,
    "tokens": [
        {
            "id": "abcdefgh",
            "name": "old",
            "permissions": ["read"],
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": None,
            "last_used_at": None,
            "hint": "ocat_…abcd",
            "digest": "sha256:" + "0" * 64,
            "legacy": False,
        }
    ],
}


def write_json(path: Path, data: object) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(data).encode()
    path.write_bytes(raw)
    os.chmod(path, 0o600)
    return raw


# --- version 1 and 2 ------------------------------------------------------------------


def test_a_version_1_file_is_read_as_it_is(store: TokenStore) -> None:
    raw = write_json(store.path, V1)
    (record,) = store.tokens()
    assert record.note is None and record.directories == ()
    store.prune()  # nothing to prune: a no-op leaves the file alone
    assert store.path.read_bytes() == raw


def test_a_version_1_file_is_written_as_version_3_on_the_next_change(store: TokenStore) -> None:
    write_json(store.path, V1)
    store.create(name="new", note="for CI", directories=["/srv/app"])
    doc = json.loads(store.path.read_text())
    assert doc["version"] == 3
    old, new = doc["tokens"]
    assert old["id"] == "abcdefgh" and old["note"] is None and old["directories"] == []
    assert new["note"] == "for CI" and new["directories"] == ["/srv/app"]


@pytest.mark.parametrize("field", ["note", "directories"])
def test_a_version_1_file_cannot_hold_the_new_fields(store: TokenStore, field: str) -> None:
    data = json.loads(json.dumps(V1))
    data["tokens"][0][field] = "x" if field == "note" else ["/x"]
    raw = write_json(store.path, data)
    with pytest.raises(StoreCorrupt, match="needs store version 2"):
        store.tokens()
    assert store.path.read_bytes() == raw


@pytest.mark.parametrize(
    "directories",
    [["relative"], ["/a/../b"], ["/a/"], ["//a"], ["/a", "/a"], ["/a\u0000b"]],
)
def test_hand_written_directories_must_be_canonical(
    store: TokenStore, directories: list[str]
) -> None:
    data = json.loads(json.dumps(V1))
    data["version"] = 2
    data["tokens"][0]["directories"] = directories
    raw = write_json(store.path, data)
    with pytest.raises(StoreCorrupt, match="directories"):
        store.tokens()
    assert store.path.read_bytes() == raw


# --- create and edit ------------------------------------------------------------------


def test_create_cleans_directories(store: TokenStore) -> None:
    issued = store.create(name="a", directories=["/srv//app/", "/srv/app", "/home/u"])
    assert issued.record.directories == ("/srv/app", "/home/u")


@pytest.mark.parametrize(
    "bad",
    ["relative/dir", "", "/a/./b", "/a/../b", "/nul\x00", "/esc\x1b[31m", "/a\nb", "/zero\u200bw"],
)
def test_bad_directories_are_refused_and_nothing_is_written(store: TokenStore, bad: str) -> None:
    with pytest.raises(InvalidDirectory):
        store.create(name="a", directories=[bad])
    assert not store.path.exists()


@pytest.mark.parametrize("bad", ["x" * 201, "line\nbreak", "esc\x1b[31m", "zero\u200bwidth"])
def test_bad_notes_are_refused(store: TokenStore, bad: str) -> None:
    with pytest.raises(InvalidNote):
        store.create(name="a", note=bad)
    assert not store.path.exists()


def test_an_empty_note_is_no_note(store: TokenStore) -> None:
    assert store.create(name="a", note="   ").record.note is None


def test_edit_changes_fields_and_keeps_the_secret(store: TokenStore, clock: FakeClock) -> None:
    issued = store.create(name="a", permissions="read", expires="30d")
    clock.advance(days=1)
    edited = store.edit(
        "a",
        name="b",
        note="deploy bot",
        permissions="read,write",
        directories=["/srv/app"],
        expires="7d",
    )
    after = edited.after
    assert set(edited.changed) == {"name", "note", "permissions", "directories", "expires_at"}
    assert after.id == issued.record.id
    assert after.digest == issued.record.digest  # same secret
    assert after.created_at == T0_S  # when the secret was issued: unchanged
    assert after.name == "b" and after.note == "deploy bot"
    assert [p.value for p in after.permissions] == ["read", "write"]
    assert after.directories == ("/srv/app",)
    assert after.expires_at == clock.now.replace(microsecond=0) + timedelta(days=7)
    assert store.get(issued.record.id) == after


def test_edit_with_nothing_new_writes_nothing(store: TokenStore) -> None:
    store.create(name="a", note="n")
    before = store.path.read_bytes()
    edited = store.edit("a", name="a", note="n")
    assert edited.changed == ()
    assert store.path.read_bytes() == before


def test_edit_clears_the_note_and_the_directories(store: TokenStore) -> None:
    store.create(name="a", note="n", directories=["/x"])
    after = store.edit("a", note="", directories=[]).after
    assert after.note is None and after.directories == ()


def test_edit_refuses_a_taken_name_and_an_unknown_token(store: TokenStore) -> None:
    store.create(name="a")
    store.create(name="b")
    before = store.path.read_bytes()
    with pytest.raises(DuplicateName):
        store.edit("a", name="B")
    with pytest.raises(TokenNotFound):
        store.edit("nope", note="x")
    assert store.path.read_bytes() == before


def test_rotate_can_change_the_directories(store: TokenStore) -> None:
    store.create(name="a", directories=["/x"])
    assert store.rotate("a").record.directories == ("/x",)
    assert store.rotate("a", directories=["/y"]).record.directories == ("/y",)


# --- a read-only store ----------------------------------------------------------------


def test_a_read_only_store_is_read_but_never_rewritten(store: TokenStore) -> None:
    store.create(name="a")
    os.chmod(store.path, 0o400)
    before = store.path.read_bytes()
    assert [r.name for r in store.tokens()] == ["a"]
    for change in (
        lambda: store.create(name="b"),
        lambda: store.delete(["a"]),
        lambda: store.rotate("a"),
        lambda: store.edit("a", note="x"),
    ):
        with pytest.raises(StoreReadOnly, match="read-only") as refused:
            change()
        assert "chmod 600" in (refused.value.hint or "")
    assert store.path.read_bytes() == before
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o400


# --- StrictModes ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_store_writable_by_others_is_refused(store: TokenStore, mode: int) -> None:
    store.create(name="a")
    os.chmod(store.path, mode)
    before = store.path.read_bytes()
    with pytest.raises(StoreUnsafe, match="writable by group or others"):
        store.tokens()
    with pytest.raises(StoreUnsafe):
        store.create(name="b")
    assert store.path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_store_in_a_folder_writable_by_others_is_refused(store: TokenStore, mode: int) -> None:
    store.create(name="a")
    os.chmod(store.path.parent, mode)
    before = store.path.read_bytes()
    with pytest.raises(StoreUnsafe, match="folder"):
        store.tokens()
    with pytest.raises(StoreUnsafe):
        store.create(name="b")
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "auth-tokens.json",
        "auth-tokens.json.lock",
    ]


def test_a_new_store_is_not_created_in_a_shared_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(StoreUnsafe):
        TokenStore(shared / "auth-tokens.json").create(name="a")
    assert list(shared.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_store_owned_by_another_user_is_refused(store: TokenStore) -> None:
    store.create(name="a")
    os.chown(store.path, NOBODY, NOBODY)
    before = store.path.read_bytes()
    with pytest.raises(StoreUnsafe, match="owned by another user"):
        read_snapshot(store.path)
    with pytest.raises(StoreUnsafe):
        store.create(name="b")
    assert store.path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_store_in_a_folder_owned_by_another_user_is_refused(store: TokenStore) -> None:
    store.create(name="a")
    os.chown(store.path.parent, NOBODY, NOBODY)
    with pytest.raises(StoreUnsafe, match="owned by another user"):
        store.tokens()


def test_a_symlink_in_a_world_writable_folder_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private"
    real_store = TokenStore(private / "auth-tokens.json")
    real_store.create(name="a")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    link = shared / "auth-tokens.json"
    link.symlink_to(real_store.path)
    before = real_store.path.read_bytes()
    with pytest.raises(StoreUnsafe, match="symbolic link"):
        read_snapshot(link)
    with pytest.raises(StoreUnsafe):
        TokenStore(link).create(name="b")
    assert real_store.path.read_bytes() == before
    # the same link in a private folder is fine
    mine = private / "link.json"
    mine.symlink_to(real_store.path)
    assert [r.name for r in read_snapshot(mine).records] == ["a"]


def test_a_folder_symlink_in_a_world_writable_folder_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private"
    TokenStore(private / "auth-tokens.json").create(name="a")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "dir").symlink_to(private)
    with pytest.raises(StoreUnsafe, match="symbolic link"):
        read_snapshot(shared / "dir" / "auth-tokens.json")
