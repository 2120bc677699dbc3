"""A bad store file is reported with its path and what is wrong, and is never written
to; a write that fails part-way leaves the previous file intact and no temp file."""

from __future__ import annotations

import errno
import json
import os
import stat
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.model.errors import (
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreUnreadable,
    StoreVersionUnsupported,
    StoreWriteFailed,
)
from core.store import TokenStore
from tests.core import core_workers
from tests.core.core_helpers import open_to_nobody, run_python, run_unprivileged, temp_files

GOOD_RECORD = {
    "id": "abcd1234",
    "name": "ci",
    "permissions": ["read"],
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": None,
    "last_used_at": None,
    "hint": "ocat_…abcd",
    "digest": "sha256:" + "0" * 64,
    "legacy": False,
}


def doc(**changes: object) -> bytes:
    record: dict[str, object] = {**GOOD_RECORD}
    top: dict[str, object] = {"version": 1}
    for key, value in changes.items():
        if key in record:
            record[key] = value
        else:
            top[key] = value
    top.setdefault("tokens", [record])
    return json.dumps(top).encode()


VALID = doc()

BAD_FILES = [
    pytest.param(VALID[: len(VALID) // 2], StoreCorrupt, "truncated", id="truncated"),
    pytest.param(VALID[:-1], StoreCorrupt, "truncated", id="truncated-last-brace"),
    pytest.param(b'{"version": 1, "tokens": [,]}', StoreCorrupt, "invalid JSON", id="bad-json"),
    pytest.param(b"", StoreCorrupt, "empty", id="empty"),
    pytest.param(b"  \n\t ", StoreCorrupt, "empty", id="whitespace"),
    pytest.param(b"\xff\xfe{\x00}", StoreCorrupt, "not UTF-8", id="not-utf8"),
    pytest.param(VALID.replace(b"ci", b"c\xe9"), StoreCorrupt, "not UTF-8", id="latin1-name"),
    pytest.param(b'{"version": 4, "tokens": []}', StoreVersionUnsupported, "4", id="v4"),
    pytest.param(b'{"version": 0, "tokens": []}', StoreVersionUnsupported, "0", id="v0"),
    pytest.param(b'{"version": "1", "tokens": []}', StoreVersionUnsupported, '"1"', id="v-str"),
    pytest.param(b'{"version": true, "tokens": []}', StoreVersionUnsupported, "true", id="v-bool"),
    pytest.param(b'{"version": 1.0, "tokens": []}', StoreVersionUnsupported, "1.0", id="v-float"),
    pytest.param(b'{"version": null, "tokens": []}', StoreVersionUnsupported, "null", id="v-null"),
    pytest.param(b'{"tokens": []}', StoreCorrupt, "no version", id="no-version"),
    pytest.param(b"null", StoreCorrupt, "JSON object", id="null"),
    pytest.param(b"42", StoreCorrupt, "JSON object", id="number"),
    pytest.param(b'"tokens"', StoreCorrupt, "JSON object", id="string"),
    pytest.param(b"[1, 2]", StoreCorrupt, "array", id="other-array"),
    pytest.param(doc(tokens={}), StoreCorrupt, "tokens", id="tokens-object"),
    pytest.param(doc(permissions="read"), StoreCorrupt, "permissions", id="perms-string"),
    pytest.param(doc(permissions=[]), StoreCorrupt, "permissions", id="perms-empty"),
    pytest.param(doc(permissions=["admin"]), StoreCorrupt, "permissions", id="perms-unknown"),
    pytest.param(doc(created_at=1767225600), StoreCorrupt, "created_at", id="time-number"),
    pytest.param(doc(expires_at=4102444800000), StoreCorrupt, "expires_at", id="expiry-ms"),
    pytest.param(doc(expires_at="2030-01-01T00:00:00"), StoreCorrupt, "expires_at", id="naive"),
    pytest.param(doc(expires_at="soon"), StoreCorrupt, "expires_at", id="expiry-text"),
    pytest.param(doc(legacy="yes"), StoreCorrupt, "legacy", id="legacy-yes"),
    pytest.param(doc(legacy=1), StoreCorrupt, "legacy", id="legacy-int"),
    pytest.param(doc(name=5), StoreCorrupt, "name", id="name-int"),
    pytest.param(doc(name=""), StoreCorrupt, "name", id="name-empty"),
    pytest.param(doc(id="ABCD1234"), StoreCorrupt, "id", id="id-pattern"),
    pytest.param(doc(digest="sha256:" + "0" * 63), StoreCorrupt, "digest", id="digest-short"),
    pytest.param(doc(digest="ocat_plaintext"), StoreCorrupt, "digest", id="digest-secret"),
    pytest.param(doc(expires="never"), StoreCorrupt, "expires", id="extra-field"),
    pytest.param(doc(extra=1), StoreCorrupt, "extra", id="extra-top-field"),
    pytest.param(
        json.dumps({"version": 1, "tokens": [GOOD_RECORD, GOOD_RECORD]}).encode(),
        StoreCorrupt,
        "share",
        id="duplicate-records",
    ),
]

MUTATIONS: list[tuple[str, Callable[[TokenStore], object]]] = [
    ("create", lambda s: s.create(name="new")),
    ("create-default", lambda s: s.create()),
    ("delete", lambda s: s.delete(["ci"])),
    ("rotate", lambda s: s.rotate("ci")),
    ("prune", lambda s: s.prune()),
    ("record_usage", lambda s: s.record_usage({"abcd1234": datetime.now(UTC)})),
    ("migrate", lambda s: s.migrate()),
]


@pytest.mark.parametrize(("content", "error", "fragment"), BAD_FILES)
def test_bad_file_is_reported_and_never_touched(
    store: TokenStore, content: bytes, error: type[StoreError], fragment: str
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    os.chmod(store.path, 0o600)
    before = os.stat(store.path)

    with pytest.raises(error) as info:
        store.load()
    err = info.value
    assert type(err) is error
    assert err.path == store.path
    assert str(store.path) in str(err)
    assert fragment in str(err)
    assert "\n" not in str(err)

    for name, mutate in MUTATIONS:
        with pytest.raises(StoreError) as info:
            mutate(store)
        assert type(info.value) is error, name
        assert info.value.path == store.path
        assert store.path.read_bytes() == content, name
        after = os.stat(store.path)
        assert (after.st_ino, after.st_mtime_ns, after.st_mode) == (
            before.st_ino,
            before.st_mtime_ns,
            before.st_mode,
        ), name
    assert temp_files(store.path.parent) == []
    assert sorted(os.listdir(store.path.parent)) == sorted(
        [store.path.name, store.path.name + ".lock"]
    )


def test_the_valid_fixture_is_valid(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(VALID)
    assert [r.name for r in store.tokens()] == ["ci"]


def test_a_folder_in_place_of_the_file_is_unreadable(store: TokenStore) -> None:
    store.path.mkdir(parents=True)
    with pytest.raises(StoreUnreadable, match="folder"):
        store.load()
    with pytest.raises(StoreError):
        store.create(name="x")
    assert store.path.is_dir()


def test_a_file_in_place_of_the_folder(store: TokenStore) -> None:
    store.path.parent.parent.mkdir(parents=True)
    store.path.parent.write_text("not a folder")
    with pytest.raises(StoreUnreadable, match="not a folder"):
        store.load()
    with pytest.raises(StoreWriteFailed):
        store.create(name="x")
    assert store.path.parent.read_text() == "not a folder"


def test_a_fifo_in_place_of_the_file_does_not_hang(store: TokenStore) -> None:
    # Regression: opening a FIFO for reading blocks until a writer appears, so
    # a FIFO at the store path hung every command (and the gateway) forever.
    store.path.parent.mkdir(parents=True)
    os.mkfifo(store.path)
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from core.store import TokenStore
        from core.model.errors import StoreUnreadable
        try:
            TokenStore(Path({str(store.path)!r})).load()
        except StoreUnreadable as exc:
            print("UNREADABLE", exc)
        """
    )
    result = run_python(code, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("UNREADABLE"), result.stdout
    assert "not a regular file" in result.stdout


def test_a_huge_file_is_refused_without_reading_it(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    with open(store.path, "wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: cheap to make
    with pytest.raises(StoreCorrupt, match="larger"):
        store.load()


def test_lock_held_by_another_holder_times_out(store: TokenStore) -> None:
    import fcntl

    store.create(name="a")
    before = store.path.read_bytes()
    store.lock_timeout = 0.2
    with open(store.lock_path, "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(StoreLocked) as info:
            store.create(name="b")
    assert info.value.path == store.path
    assert store.path.read_bytes() == before
    store.create(name="b")  # released: works again


# --- writes that fail part-way -----------------------------------------------------------


@pytest.fixture
def populated(store: TokenStore) -> bytes:
    store.create(name="a")
    store.create(name="b")
    return store.path.read_bytes()


def assert_intact(store: TokenStore, before: bytes) -> None:
    assert store.path.read_bytes() == before
    assert temp_files(store.path.parent) == []
    assert [r.name for r in store.tokens()] == ["a", "b"]


def _raise(code: int) -> Callable[..., object]:
    def fail(*_args: object, **_kwargs: object) -> object:
        raise OSError(code, os.strerror(code))

    return fail


def test_failing_rename_leaves_the_previous_file(
    store: TokenStore, populated: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "replace", _raise(errno.EIO))
    with pytest.raises(StoreWriteFailed, match="unchanged") as info:
        store.create(name="c")
    assert info.value.path == store.path
    monkeypatch.undo()
    assert_intact(store, populated)


def test_failing_file_fsync_leaves_the_previous_file(
    store: TokenStore, populated: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", _raise(errno.EIO))
    for mutate in (lambda: store.create(name="c"), lambda: store.delete(["a"])):
        with pytest.raises(StoreWriteFailed, match="Input/output error"):
            mutate()
    monkeypatch.undo()
    assert_intact(store, populated)


def test_disk_full_part_way_through_the_write(
    store: TokenStore, populated: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = 0

    def short_then_enospc(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data)[:100])  # a short write...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ...then the disk is full

    monkeypatch.setattr(os, "write", short_then_enospc)
    with pytest.raises(StoreWriteFailed, match="No space left") as info:
        store.rotate("a")
    assert "unchanged" in str(info.value)
    monkeypatch.undo()
    assert calls == 2
    assert_intact(store, populated)


def test_directory_fsync_failing_after_the_rename_does_not_report_a_lost_write(
    store: TokenStore, populated: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: once the rename has happened the change is made; failing the
    # folder fsync used to raise "the previous file is unchanged", so a caller
    # would not show the secret of a token that was in fact created. (Windows
    # cannot open a folder at all, so there every write failed this way.)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    issued = store.create(name="c")
    assert store.get("c") == issued.record
    assert temp_files(store.path.parent) == []
    # The migration backup is written the same way.
    store.path.write_text(
        '[{"token": "0123456789abcdef0123", "permissions": ["read"], "createdAt": 0}]'
    )
    migration = store.migrate()
    assert migration.backup.exists()
    assert store.tokens() == migration.records


def test_the_new_file_is_private_from_its_first_byte(
    store: TokenStore, populated: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    modes: list[int] = []

    def spy(fd: int, data: bytes) -> int:
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    os.chmod(store.path, 0o644)
    monkeypatch.setattr(os, "write", spy)
    store.create(name="c")
    monkeypatch.undo()
    assert modes and set(modes) == {0o600}


def test_file_size_limit_in_a_real_process(store: TokenStore, populated: bytes) -> None:
    # RLIMIT_FSIZE: the kernel refuses to grow a file past the limit (EFBIG;
    # Python ignores SIGXFSZ). The limit is above the current file's size, so
    # only the new, larger version cannot be written.
    limit = len(populated) + 64
    code = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        from core.store import TokenStore
        from core.model.errors import StoreWriteFailed
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        store = TokenStore(Path({str(store.path)!r}))
        try:
            store.create(name="x" * 60, permissions="read,write,execute")
        except StoreWriteFailed as exc:
            print("FAILED", exc)
            sys.exit(0)
        print("WROTE")
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FAILED"), result.stdout
    assert "File too large" in result.stdout
    assert "unchanged" in result.stdout
    assert_intact(store, populated)


# --- read-only folder and unreadable file -------------------------------------------------


@pytest.mark.parametrize("existing", [True, False], ids=["existing-store", "new-store"])
def test_read_only_folder_gives_store_write_failed(store: TokenStore, existing: bool) -> None:
    folder = store.path.parent
    if existing:
        store.create(name="a")
    else:
        folder.mkdir(parents=True)
    before = store.path.read_bytes() if existing else None
    if os.geteuid() != 0:
        os.chmod(folder, 0o500)
        try:
            with pytest.raises(StoreWriteFailed) as info:
                store.create(name="new")
        finally:
            os.chmod(folder, 0o700)
        assert info.value.path in (store.path, folder)
    else:
        # Root ignores folder permissions, so chmod 0500 alone proves nothing:
        # make the same write as an unprivileged user who owns the folder.
        open_to_nobody(folder)
        os.chmod(folder, 0o500)
        try:
            result = run_unprivileged(core_workers.write_as_unprivileged_user, str(store.path))
        finally:
            os.chmod(folder, 0o700)
        assert result[0] == "failed", result
        _, message, path, unchanged, leftovers = result
        assert path in (str(store.path), str(folder))
        assert str(store.path) in str(message) or str(folder) in str(message)
        assert unchanged is True
        assert leftovers == []
    assert (store.path.read_bytes() if existing else None) == before
    assert temp_files(folder) == []


def test_unreadable_file_gives_store_unreadable(store: TokenStore) -> None:
    store.create(name="a")
    os.chmod(store.path, 0o000)
    if os.geteuid() != 0:
        try:
            with pytest.raises(StoreUnreadable, match="permission denied") as info:
                store.load()
        finally:
            os.chmod(store.path, 0o600)
        assert info.value.path == store.path
        return
    open_to_nobody(store.path.parent)
    os.chmod(store.path, 0o000)
    result = run_unprivileged(core_workers.read_as_unprivileged_user, str(store.path))
    assert result[0] == "StoreUnreadable", result
    assert str(store.path) in str(result[1]) and "permission denied" in str(result[1])


def test_an_unreadable_folder_is_named_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hint says which folder keeps the store out of reach (not "check the
    file's owner" when it is a folder on the way)."""
    from core.model.errors import StoreUnreadable
    from core.store.file import reading as store_module

    private = tmp_path / "private"
    private.mkdir()
    target = private / "auth-tokens.json"
    real_access = os.access

    def no_entry(path: object, mode: int, **kw: object) -> bool:
        if str(path) == str(private) and mode == os.X_OK:
            return False
        return real_access(path, mode)  # type: ignore[arg-type]

    def denied(path: object, flags: int, *args: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "access", no_entry)
    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(StoreUnreadable) as refused:
        store_module.read_file(target)
    assert refused.value.hint == f"the folder {private} cannot be entered: check its owner and mode"
