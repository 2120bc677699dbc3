"""Crash-safe file replacement.

The new content goes to a temporary file in the same folder, created 0600 from
its first byte (`O_CREAT|O_EXCL` with mode 0600, then `fchmod` so no umask can
widen or narrow it), is fsynced, renamed over the target and the folder is
fsynced. A reader therefore sees the old file or the new one, never a mix; a
crash or a full disk at any step leaves the old file intact, and a failed write
removes its temporary file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
TEMP_SUFFIX = ".tmp"
_TEMP_TOKEN_BYTES = 6
_TEMP_MIDDLE = re.compile(rf"[0-9a-f]{{{2 * _TEMP_TOKEN_BYTES}}}")


def temp_prefix(target: Path) -> str:
    return f".{target.name}."


def ensure_private_dir(folder: Path) -> None:
    """Create `folder` (and parents) if missing; every folder created here is 0700.

    Existing folders are left as they are: one may be opencode's own config
    folder. Missing parents (say `~/.config` itself) are made 0700 too, as the
    XDG spec asks: with a loose umask they would otherwise be world-writable, and
    anyone could swap the store's folder for their own.
    """
    if folder.is_dir():
        return
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for created in reversed(missing):
        created.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(created, DIR_MODE)  # mkdir's mode is filtered by the umask


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path`, which must not exist yet, mode 0600, fsynced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def atomic_write(target: Path, data: bytes) -> None:
    """Replace `target` with `data` atomically (see the module docstring).

    Raises OSError on failure, after removing the temporary file; the previous
    content of `target` is then untouched.
    """
    folder = target.parent
    tmp = folder / f"{temp_prefix(target)}{secrets.token_hex(_TEMP_TOKEN_BYTES)}{TEMP_SUFFIX}"
    write_new_private_file(tmp, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The change is made and visible now; the folder fsync only makes the
    # rename durable sooner. Failing here would tell the caller the write was
    # lost when it was not (and Windows cannot open a folder at all).
    with contextlib.suppress(OSError):
        fsync_dir(folder)


def remove_stale_temps(target: Path) -> None:
    """Delete temporary files a killed writer left behind.

    Only called while holding the store lock: then no other writer can have a
    temporary file in flight, so every match is stale.
    """
    prefix = temp_prefix(target)
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            name = entry.name
            # Exactly `.<target>.<12 hex>.tmp`: not the temp file of another store
            # whose name merely starts the same (`auth-tokens.json.work`, ...).
            if (
                name.startswith(prefix)
                and name.endswith(TEMP_SUFFIX)
                and _TEMP_MIDDLE.fullmatch(name[len(prefix) : -len(TEMP_SUFFIX)])
            ):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
