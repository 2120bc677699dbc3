"""In words: what a token can and cannot do on opencode, from its permissions, its
directories and the route policy's classes (README, "What a permission lets a
token do"). Shown in the TUI's details and by `token show`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.permissions import Permission, passes_nothing

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE

_CAN = {
    R: "list and read the project's files except opencode's config files, find files by name, "
    "git status",
    W: "write to opencode's log",
    (R, X): "search inside files, read diffs, opencode's config files, sessions, the config "
    "(with API keys) and event streams",
    (W, X): "run commands, prompt the agent, and change opencode's config, MCP servers "
    "and credentials",
}
_READ_WITH_EXECUTE = "list and read the project's files, find files by name, git status"
"""Read's words when execute lifts its one exception (opencode's config files)."""
_CANNOT = {
    R: "list or read files",
    W: "change anything",
    (R, X): "search inside files, read diffs, opencode's config files, sessions, the config, "
    "API keys or event streams",
    (W, X): "run commands or steer the agent",
}


@dataclass(frozen=True)
class Abilities:
    where: str
    can: tuple[str, ...]
    cannot: tuple[str, ...]

    def sentence(self) -> str:
        """`reads files in ~/src/app; cannot run commands` - one line."""
        can = "; ".join(self.can) if self.can else "nothing"
        if not self.cannot:
            return f"{self.where}: {can}"
        return f"{self.where}: {can}; cannot {', '.join(self.cannot)}"


def shorten(path: str, home: Path | None) -> str:
    if home is not None:
        base = str(home).rstrip("/")
        if path == base:
            return "~"
        if path.startswith(base + "/"):
            return "~" + path[len(base) :]
    return path


def abilities(
    permissions: Iterable[Permission], directories: Iterable[str] = (), home: Path | None = None
) -> Abilities:
    held = set(permissions)
    dirs = [shorten(d, home) for d in directories]
    where = "in " + ", ".join(dirs) if dirs else "in every directory the server serves"
    if passes_nothing(held) is not None:
        return Abilities(where, (), ("pass any request (it needs read or write too)",))
    can: list[str] = []
    cannot: list[str] = []
    for key in (R, W, (R, X), (W, X)):
        needed = {key} if isinstance(key, Permission) else set(key)
        if not needed <= held:
            cannot.append(_CANNOT[key])
        elif key is R and X in held:
            can.append(_READ_WITH_EXECUTE)
        else:
            can.append(_CAN[key])
    if {W, X} <= held and dirs:
        can[-1] += " (commands reach beyond those directories: whatever opencode's user can)"
    return Abilities(where, tuple(can), tuple(cannot))
