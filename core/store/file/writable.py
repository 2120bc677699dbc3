"""Whether the store file could be changed, asked without writing anything.

A change takes the lock (`FILE.lock`, opened for writing), writes a temporary
file in the folder and renames it over the store; the engine also refuses a
store file whose owner has no write permission (`StoreReadOnly`). A gateway on
a read-only store asks this once at start, rather than failing to record
`last_used_at` every few seconds for as long as it runs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write_problem(path: Path, lock: Path) -> str | None:
    """Why a change to the store at `path` would fail, from stat and access(2)
    alone; None when nothing says it would (no file yet: nothing to change)."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # missing: nothing to record into; unreadable: a read says why
    if not st.st_mode & stat.S_IWUSR:
        return f"{path} has no write permission for its owner (mode {stat.S_IMODE(st.st_mode):04o})"
    folder = path.parent
    if not _may(folder, os.W_OK | os.X_OK):
        return f"cannot create files in its folder {folder}: {_why_not(folder)}"
    if os.path.lexists(lock) and not _may(lock, os.R_OK | os.W_OK):
        return f"cannot open the lock file {lock}: {_why_not(lock)}"
    return None


def _may(path: Path, mode: int) -> bool:
    """access(2) as this process's effective user (a service started with setuid
    or sudo -u is that user)."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, mode, effective_ids=effective)


def _why_not(path: Path) -> str:
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return "the file system is read-only" if read_only else "permission denied"
