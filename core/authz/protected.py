"""Paths no request may reach whatever its token and directories - the store's
files, opencode's own credentials and config, libpq's password files, /proc,
/sys, /dev - and opencode's config files, which need `execute` to read."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.model.directories import BadDirectory, normalize_directory, within
from core.model.permissions import Permission

SYSTEM_PROTECTED = ("/proc", "/sys", "/dev")
NEVER_SERVED = (
    "never served (the token store, opencode's own credentials and config, "
    "/proc, /sys and /dev are off limits)"
)


def join_inside(directory: str, relative: str) -> str:
    """`directory/relative`, lexically resolved (an absolute `relative` stands alone)."""
    joined = posixpath.normpath(posixpath.join(directory, relative))
    return "/" + joined.lstrip("/") if joined.startswith("//") else joined


def real(path: str) -> str:
    """`path` with symbolic links resolved, as far as this machine can see it."""
    return os.path.realpath(path)


# --- opencode's config files ------------------------------------------------------------

CONFIG_FILE_NAMES = frozenset({"opencode.json", "opencode.jsonc", "config.json"})
"""What opencode 1.18.33 reads its config from in a directory and each folder above
it up to the worktree (`opencode.json`, `opencode.jsonc`), and what PATCH /config
writes into the directory it works in (`config.json`)."""
CONFIG_FOLDER = ".opencode"
"""A project's (and the home folder's) config folder: opencode.json(c), plugins,
agents, commands, modes, skills and tools, all read when a directory is loaded."""
CONFIG_FILES_NEED = frozenset({Permission.EXECUTE})
CONFIG_FILES_REASON = "opencode's config files can hold API keys"


def is_config_file(path: str) -> bool:
    """`path` is one of opencode's config files, or inside a config folder, at any
    depth. Compared case-insensitively: on macOS and Windows `OPENCODE.JSON` is the
    same file."""
    parts = path.casefold().split("/")
    return parts[-1] in CONFIG_FILE_NAMES or CONFIG_FOLDER in parts


# --- what the server protects and serves -----------------------------------------------


@dataclass(frozen=True, slots=True)
class FileFamily:
    """A file and its siblings: `name`, `name.lock`, `name.<backup>`, `.name.<tmp>`."""

    folder: str
    name: str

    def covers(self, path: str) -> bool:
        folder, base = posixpath.split(path)
        return folder == self.folder and (
            base == self.name
            or base.startswith(self.name + ".")
            or base.startswith("." + self.name + ".")
        )


@dataclass(frozen=True, slots=True)
class Protected:
    """Paths no request may reach, whatever the roots."""

    folders: tuple[str, ...] = SYSTEM_PROTECTED
    families: tuple[FileFamily, ...] = ()

    def covers(self, path: str) -> bool:
        """`path` is a protected file, or inside a protected folder."""
        return any(within(path, folder) for folder in self.folders) or any(
            family.covers(path) for family in self.families
        )

    def inside(self, directory: str) -> str | None:
        """A protected path at or below `directory` (a search there would reach it)."""
        for folder in self.folders:
            if within(folder, directory):
                return folder
        for family in self.families:
            if within(family.folder, directory):
                return posixpath.join(family.folder, family.name)
        return None


def protected_paths(
    kept: Iterable[str | os.PathLike[str]] = (),
    *,
    opencode_folders: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Protected:
    """The files the store keeps its tokens in, if any (`KeepsFiles`: each with its
    lock, backups and temporary files), opencode's own
    config, data, state and cache folders (as this process and opencode itself
    report them), libpq's password and service files and ~/.postgresql, and
    /proc, /sys, /dev."""
    env = os.environ if environ is None else environ
    folders: list[str] = list(SYSTEM_PROTECTED)
    home = env.get("HOME") or os.path.expanduser("~")
    for variable, fallback in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        base = env.get(variable) or ""
        if not base.startswith("/"):
            base = posixpath.join(home, fallback)
        folders.append(posixpath.join(base, "opencode"))
    folders.extend(opencode_folders)
    families: set[FileFamily] = set()
    for kept_file in kept:  # none when the tokens are not in a file (a database)
        store = os.fspath(kept_file)
        families.add(FileFamily(*posixpath.split(store)))
        families.add(FileFamily(*posixpath.split(real(store))))
    # libpq's credentials - what a database store logs in with, and passwords to
    # other databases whatever the store: always off limits.
    folders.append(posixpath.join(home, ".postgresql"))  # client certificates and keys
    for variable, default in (
        ("PGPASSFILE", posixpath.join(home, ".pgpass")),
        ("PGSERVICEFILE", posixpath.join(home, ".pg_service.conf")),
    ):
        for credential in {default, env.get(variable) or default}:
            if credential.startswith("/"):
                families.add(FileFamily(*posixpath.split(credential)))
                families.add(FileFamily(*posixpath.split(real(credential))))
    sysconf = env.get("PGSYSCONFDIR") or ""
    if sysconf.startswith("/"):
        families.add(FileFamily(sysconf.rstrip("/") or "/", "pg_service.conf"))
    clean: dict[str, None] = {}
    for folder in folders:
        for candidate in (folder, real(folder)):
            try:
                clean[normalize_directory(candidate)] = None
            except BadDirectory:
                continue
    return Protected(tuple(clean), tuple(sorted(families, key=lambda f: (f.folder, f.name))))
