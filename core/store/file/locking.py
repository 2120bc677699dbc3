"""A cross-process lock around every read-modify-write of the store.

An advisory `flock` on a sidecar file (`auth-tokens.json.lock`, 0600, never
deleted - deleting lock files reopens the race they close). The kernel releases
it when the holder exits, even on SIGKILL, so a crashed writer cannot wedge the
store. Readers take no lock: writes are atomic renames, so a reader always sees
a whole file.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType

from core.store.file.atomic import FILE_MODE

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class LockTimeout(Exception):
    pass


class FileLock:
    """`with FileLock(path, timeout):` holds an exclusive lock on `path`."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        # O_NOFOLLOW: in a shared folder, a planted symlink must not redirect the lock.
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, FILE_MODE)
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(str(self.path))
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                _unlock(fd)
            finally:
                os.close(fd)
