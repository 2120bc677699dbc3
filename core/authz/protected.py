"""Paths no request may reach whatever its token and directories - the store's
files, opencode's own credentials and config, libpq's password files, /proc,
/sys, /dev - and opencode's config files, which need `execute` to read."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


# Symbolic links are resolved afresh on every request, never remembered: a link
# swapped between two requests (`root/docs` -> `/etc`) is seen by the very next
# one - that is the race a cache of resolved paths would open. What is saved is
# the walk: `os.path.realpath` is Python that `lstat`s every component of the
# path (and a link can change between two of those calls); here the kernel
# resolves the whole path in one lookup (`open(O_PATH)`, which opens nothing
# for reading, then `/proc/self/fd/N` names what was reached), which is both
# cheaper and one consistent view of the links. A file below a directory is
# looked up from that directory's own descriptor (`real_below`), so the file
# is resolved inside the very directory whose resolution was checked, and the
# directory's path is not walked a second time. Wherever the kernel cannot
# answer (no /proc, a missing path, a loop, no permission) `os.path.realpath`
# answers as before.
_O_PATH = getattr(os, "O_PATH", 0)
_FD_LINKS = "/proc/self/fd/"
_KERNEL = bool(_O_PATH) and os.path.isdir(_FD_LINKS)


def _named(fd: int) -> str | None:
    """The absolute path the kernel reached for descriptor `fd`, or None."""
    try:
        name = os.readlink(f"{_FD_LINKS}{fd}")
    except OSError:
        return None
    # "(unreachable)/..." or "... (deleted)": not a path to compare with
    return name if name.startswith("/") and not name.endswith(" (deleted)") else None


def real(path: str) -> str:
    """`path` with symbolic links resolved, as far as this machine can see it."""
    if _KERNEL:
        try:
            fd = os.open(path, _O_PATH | os.O_CLOEXEC)
        except (OSError, ValueError):
            return os.path.realpath(path)
        try:
            name = _named(fd)
        finally:
            os.close(fd)
        if name is not None:
            return name
    return os.path.realpath(path)


def real_below(directory: str, relative: str) -> tuple[str, str]:
    """(`real(directory)`, `real(directory/relative)`), the second looked up from
    the first's descriptor. `relative` is normalised and has no `..` segment."""
    if _KERNEL and relative:
        try:
            fd = os.open(directory, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except (OSError, ValueError):
            fd = -1
        if fd >= 0:
            try:
                top = _named(fd)
                try:
                    inner = os.open(relative, _O_PATH | os.O_CLOEXEC, dir_fd=fd)
                except (OSError, ValueError):
                    below = None
                else:
                    try:
                        below = _named(inner)
                    finally:
                        os.close(inner)
            finally:
                os.close(fd)
            if top is not None:
                if below is None:  # a missing file: as far as it exists, from `top`
                    below = os.path.realpath(posixpath.join(top, relative))
                return top, below
    return real(directory), real(posixpath.join(directory, relative) if relative else directory)


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
    # Asked up to four times a request (a directory, a file, each also resolved):
    # the folders as a set, looked up for each of the path's own ancestors, and
    # the families by their folder - a few lookups, not one comparison per entry.
    _folder_set: frozenset[str] = field(init=False, repr=False, compare=False)
    _by_folder: dict[str, tuple[FileFamily, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_folder: dict[str, tuple[FileFamily, ...]] = {}
        for family in self.families:
            by_folder[family.folder] = (*by_folder.get(family.folder, ()), family)
        object.__setattr__(self, "_folder_set", frozenset(self.folders))
        object.__setattr__(self, "_by_folder", by_folder)

    def covers(self, path: str) -> bool:
        """`path` is a protected file, or inside a protected folder (`within` one:
        the path itself or any prefix of it that ends before a `/`)."""
        folders = self._folder_set
        if "/" in folders:
            return True
        ancestor = path
        while ancestor:
            if ancestor in folders:
                return True
            ancestor = ancestor[: ancestor.rfind("/")]
        family_folder = posixpath.split(path)[0]
        return any(family.covers(path) for family in self._by_folder.get(family_folder, ()))

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
