"""Reading the store file: its bytes and stat, validated strictly, and a reader
that reads it again only when (and only as much as) it changed."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.model.errors import (
    LegacyStoreFound,
    StoreCorrupt,
    StoreUnreadable,
    StoreVersionUnsupported,
)
from core.model.records import READABLE_VERSIONS, STORE_VERSION, Document, TokenRecord
from core.store.file.fast_records import fast_load
from core.store.file.format import serialize as serialize  # the file for records (re-exported
from core.store.file.format import split
from core.store.file.incremental import Loaded
from core.store.file.safety import check_file, check_location
from core.store.snapshot import Snapshot

MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Identity of one version of the file: any write changes at least one field."""

    inode: int
    device: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Fingerprint:
        return cls(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


UNREADABLE = Fingerprint(-1, -1, -1, -1, -1)


@dataclass(frozen=True)
class FileSnapshot(Snapshot[Fingerprint | None]):
    """A version of the file, with what only the file engine needs."""

    loaded: Loaded | None = field(default=None, repr=False, compare=False)
    """The records with their blocks of the file, for reading again or writing
    only what changed (format.py)."""


class _Latest:
    """The newest version of one file that this store object, or any reader it
    made, has read or written. A reader whose file changed takes it instead of
    reading, when it is what is on disk now: so the gateway's authorizer never
    reads back the store's own `last_used_at` batch, and the store never reads
    back what its authorizer has just read."""

    __slots__ = ("snapshot",)

    def __init__(self) -> None:
        self.snapshot: FileSnapshot | None = None


def read_file(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The file's bytes and stat, or None if it does not exist (nor its folder)."""
    # O_NONBLOCK: opening a FIFO put where the store should be must not hang
    # (the fstat below then refuses it); it changes nothing for regular files.
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise StoreUnreadable(path, "permission denied", hint=_permission_hint(path)) from None
    except NotADirectoryError:
        raise StoreUnreadable(path, "a parent of this path is not a folder") from None
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise StoreUnreadable(path, f"is {kind}", hint="point --store at a JSON file")
        check_file(path, st)
        check_location(path)
        if st.st_size > MAX_FILE_BYTES:
            raise StoreCorrupt(path, f"is {st.st_size} bytes, far larger than any token store")
        # All of it in one read where the file system gives it (no join: at 100k
        # tokens, a 44 MB copy saved), then whatever a growing file adds.
        chunks = [os.read(fd, st.st_size + 1)]
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), st
    except OSError as exc:
        raise StoreUnreadable(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def _permission_hint(path: Path) -> str:
    """Whether it is the file or a folder on the way that keeps the store out of reach."""
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not os.access(folder, os.X_OK):
            return f"the folder {folder} cannot be entered: check its owner and mode"
    return "check the file's owner and mode (chmod 600)"


def _mode_warnings(path: Path, st: os.stat_result) -> tuple[str, ...]:
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return (
            f"{path} is accessible by group or others (mode {mode:04o}); run: chmod 600 '{path}'",
        )
    return ()


def file_warnings(path: Path) -> tuple[str, ...]:
    """The warnings `read_snapshot` would give, from a stat alone (no read)."""
    try:
        st = os.stat(path)
    except OSError:
        return ()  # missing or unreadable: reading it reports that precisely
    if not stat.S_ISREG(st.st_mode):
        return ()  # a folder or a device: reading it says so (its mode is not the point)
    return _mode_warnings(path, st)


def parse_document(path: Path, data: bytes) -> tuple[TokenRecord, ...]:
    """The tokens of the file's bytes (`parse_store`)."""
    return parse_store(path, data).tokens


def parse_store(path: Path, data: bytes) -> Document:
    """Validate the file's bytes by the models; raise a StoreError saying exactly
    what is wrong.

    Strict: only what this program writes is accepted (a number is not a time,
    "yes" is not a boolean), so a hand edit cannot change a meaning silently.
    """
    # The models are imported here, not above: a file in the layout this program
    # writes is read without them (fast_records.py), and then no pydantic is.
    from pydantic import ValidationError

    from core.model.schema import parse_document_json
    from core.store.file import legacy

    try:
        return parse_document_json(data)
    except ValidationError as exc:
        invalid = exc  # diagnose below, slowly and precisely
    fix = "restore it from a backup, or move it aside to start an empty store"
    if not data.strip():
        raise StoreCorrupt(path, "the file is empty", hint=fix)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreCorrupt(
            path, f"not UTF-8 text (bad byte at offset {exc.start})", hint=fix
        ) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        if at_end or _unclosed(text):
            raise StoreCorrupt(
                path, f"the JSON ends early, at line {exc.lineno}: the file is truncated", hint=fix
            ) from None
        raise StoreCorrupt(
            path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", hint=fix
        ) from None
    if isinstance(obj, list):
        if legacy.looks_legacy(obj):
            raise LegacyStoreFound(
                path,
                f"is in the old PR #8217 format ({len(obj)} token{'' if len(obj) == 1 else 's'}, "
                "secrets in plain text)",
                hint="run `opencode-auth-tui migrate` to convert it; a 0600 backup is kept",
            )
        raise StoreCorrupt(path, "is a JSON array but not a PR #8217 token list", hint=fix)
    if not isinstance(obj, dict):
        raise StoreCorrupt(path, "expected a JSON object with a version field", hint=fix)
    if "version" not in obj:
        raise StoreCorrupt(path, "has no version field", hint=fix)
    version = obj["version"]
    if type(version) is not int or version not in READABLE_VERSIONS:  # not true, not 2.0
        newer = (
            isinstance(version, int) and not isinstance(version, bool) and version > STORE_VERSION
        )
        raise StoreVersionUnsupported(
            path,
            f"store version {json.dumps(version)[:20]} is not supported "
            f"(this build reads versions 1 to {STORE_VERSION})",
            hint="upgrade opencode-auth-tui" if newer else fix,
        )
    err = invalid.errors(include_input=False, include_url=False)[0]
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
    ).lstrip(".")
    raise StoreCorrupt(path, f"{where or 'document'}: {err['msg']}", hint=fix)


def _unclosed(text: str) -> bool:
    """More brackets or braces opened than closed (outside strings): cut short."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0


def read_snapshot(path: Path) -> FileSnapshot:
    """The file read and validated whole."""
    return _snapshot(path, None, time.time_ns())


def _snapshot(path: Path, previous: FileSnapshot | None, started: int) -> FileSnapshot:
    found = read_file(path)
    if found is None:
        return FileSnapshot(str(path), (), False, None, read_at_ns=started)
    data, st = found
    step = None
    if previous is not None and previous.loaded is not None:
        step = previous.loaded.after(data)
    if step is not None:
        loaded, removed, added = step
        delta: tuple[Sequence[TokenRecord], Sequence[TokenRecord]] | None = (removed, added)
        records = tuple(loaded.records)
    else:
        loaded = _load(path, data)
        records = tuple(loaded.records)
        delta = None
    return FileSnapshot(
        location=str(path),
        records=records,
        exists=True,
        version=Fingerprint.of(st),
        warnings=_mode_warnings(path, st),
        read_only=not st.st_mode & stat.S_IWUSR,
        sessions=loaded.sessions,
        pairings=loaded.pairings,
        loaded=loaded,
        delta=delta,
        based_on=None if previous is None else previous.version,
        read_at_ns=started,
    )


def _load(path: Path, data: bytes) -> Loaded:
    """The file's records, read whole: by fast_records.py where the file is in
    the layout this program writes and that path takes it (the same records the
    models make, without validating each), else by the models (`parse_store`)."""
    layout = split(data)
    if layout is not None:
        blocks, tail = layout
        fast = fast_load(blocks, tail)
        if fast is not None:
            records, (sessions, pairings) = fast
            return Loaded(
                records, blocks, data=data, tail=tail, sessions=sessions, pairings=pairings
            )
    doc = parse_store(path, data)
    if layout is not None and len(layout[0]) == len(doc.tokens):
        return Loaded(
            list(doc.tokens),
            layout[0],
            data=data,
            tail=layout[1],
            sessions=doc.sessions,
            pairings=doc.pairings,
        )
    return Loaded(list(doc.tokens), None, sessions=doc.sessions, pairings=doc.pairings)


_SECOND_NS = 1_000_000_000
_COARSE_TICK_NS = 2 * _SECOND_NS


class StoreReader:
    """One store file, read again only when it changes, and then only as much as
    it changed (store_format.py).

    A version is identified by inode, device, size, mtime_ns and ctime_ns
    (`Fingerprint`). Because a rewrite can land within one timestamp tick of a
    read and keep all of them (an in-place edit; this program always writes a
    new file, whose inode differs), a version read less than `racy_window`
    after its mtime is read once more when that window has passed - git's
    "racy clean" rule. Where mtime and ctime are whole seconds the file system
    most likely keeps only seconds, and the window is 2 s.
    """

    def __init__(
        self, path: Path, *, racy_window: float = 0.05, latest: _Latest | None = None
    ) -> None:
        self.path = path
        self._fspath = os.fspath(path)
        self._racy_ns = int(racy_window * 1e9)
        self._latest = _Latest() if latest is None else latest
        self._current: FileSnapshot | None = None
        self._current_key: tuple[int, int, int, int, int] | None = None
        self._recheck_at: int | None = None

    def stat_key(self) -> tuple[int, int, int, int, int] | None:
        """The file's identity as a plain tuple (this runs per decision), None if
        missing; an unreadable path gives a key no version has."""
        try:
            st = os.stat(self._fspath)
        except FileNotFoundError:
            return None
        except OSError:
            return (-1, -1, -1, -1, -1)
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def is_current(self, key: tuple[int, int, int, int, int] | None) -> bool:
        """Whether the version held is the file's, given its `stat_key()`."""
        if self._current is None or self._current_key != key:
            return False
        return self._recheck_at is None or time.time_ns() < self._recheck_at

    def snapshot(self) -> FileSnapshot:
        """The file's current version (read only if it changed)."""
        key = self.stat_key()
        if self.is_current(key):
            assert self._current is not None
            return self._current
        return self._reload(key)

    def reload(self) -> FileSnapshot:
        return self._reload(self.stat_key())

    def _reload(self, key: tuple[int, int, int, int, int] | None) -> FileSnapshot:
        latest = self._latest.snapshot
        if latest is not None and latest is not self._current and _key(latest) == key:
            # What this process last read or wrote is what is on disk: no read. (Not
            # the version held itself: that one is being read again as racy.)
            self.adopt(latest)
            return latest
        started = time.time_ns()  # before reading: the bytes are at least this old
        try:
            found = _snapshot(self.path, self._current, started)
        except BaseException:
            self._current = None  # an unreadable or corrupt file: never fall back
            raise
        self.adopt(found)
        return found

    def adopt(self, found: FileSnapshot) -> None:
        """Hold `found` as the current version (one read, or one of our writes),
        and make it the newest this process knows."""
        self._current = found
        self._latest.snapshot = found
        fp = found.version
        self._current_key = (
            None if fp is None else (fp.inode, fp.device, fp.size, fp.mtime_ns, fp.ctime_ns)
        )
        self._recheck_at = None
        if fp is not None:
            window = self._racy_ns
            if fp.mtime_ns % _SECOND_NS == 0 and fp.ctime_ns % _SECOND_NS == 0:
                window = max(window, _COARSE_TICK_NS)
            if abs(found.read_at_ns - fp.mtime_ns) < window:
                self._recheck_at = fp.mtime_ns + window

    @property
    def current(self) -> FileSnapshot | None:
        return self._current


def _key(snapshot: FileSnapshot) -> tuple[int, int, int, int, int] | None:
    fp = snapshot.version
    return None if fp is None else (fp.inode, fp.device, fp.size, fp.mtime_ns, fp.ctime_ns)
