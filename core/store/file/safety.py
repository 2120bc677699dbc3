"""Refuse a store that someone else could change, as ssh's StrictModes does.

Whoever can write the store can add a token of their own, so the store is
refused (read or written) when:

- the file or its folder is owned by another user (root is trusted too);
- the file or its folder is writable by group or others;
- the path goes through a symbolic link that sits in a world-writable folder
  (`/tmp/link -> ...`): anyone could have planted or can swap it.

The checks use `lstat`/`fstat` and cost a few system calls; they run when the
store is read or about to be written, not on every authorization.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.model.errors import StoreUnsafe

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def _trusted(uid: int) -> bool:
    return uid == 0 or uid == os.geteuid()


def check_file(path: Path, st: os.stat_result) -> None:
    """The store file itself (from `fstat` of the open file)."""
    if not _trusted(st.st_uid):
        raise StoreUnsafe(
            path,
            f"is owned by another user (uid {st.st_uid}), who could add tokens to it",
            hint="use a store file of your own",
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & _OTHERS_WRITE:
        raise StoreUnsafe(
            path,
            f"is writable by group or others (mode {mode:04o}), who could add tokens to it",
            hint=f"run: chmod 600 '{path}'",
        )


def check_location(path: Path) -> None:
    """The folders on the way to the store: no symlink in a world-writable folder,
    and the store's own folder owned by you (or root) and writable by no one else.

    A folder that does not exist yet is fine: the store creates it 0700.
    """
    current = "/"
    for name in Path(os.path.abspath(path)).parts[1:]:
        candidate = os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except OSError:
            break  # missing (to be created) or unreadable (reading reports it)
        if stat.S_ISLNK(st.st_mode):
            try:
                folder_mode = os.stat(current).st_mode
            except OSError:
                break
            if folder_mode & stat.S_IWOTH:
                raise StoreUnsafe(
                    path,
                    f"is reached through the symbolic link {candidate} in the "
                    f"world-writable folder {current}, which anyone could swap",
                    hint="give --store the real path, in a folder of your own",
                )
            current = os.path.realpath(candidate)
        else:
            current = candidate
    folder = os.path.dirname(os.path.realpath(path))
    try:
        st = os.stat(folder)
    except OSError:
        return
    if not _trusted(st.st_uid):
        raise StoreUnsafe(
            path,
            f"is in the folder {folder}, owned by another user (uid {st.st_uid}), "
            "who could replace the store",
            hint="keep the store in a folder of your own",
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & _OTHERS_WRITE:
        raise StoreUnsafe(
            path,
            f"is in the folder {folder}, writable by group or others (mode {mode:04o}), "
            "who could replace the store",
            hint=f"run: chmod 700 '{folder}' (or keep the store in a private folder)",
        )
