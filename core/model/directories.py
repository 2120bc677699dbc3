"""Directories as the scope rules compare them: absolute, canonical, no tricks.

Shared by the store (a token's `directories`) and the scope decision, so a
directory is written down in exactly the form it is later compared in.
"""

from __future__ import annotations

import re

_SLASHES = re.compile(r"/{2,}")


class BadDirectory(ValueError):
    """A directory that is refused outright (relative, NUL, dot segments)."""


def normalize_directory(text: str) -> str:
    """An absolute directory in canonical form: no `//`, no trailing `/`.

    Relative paths, NUL and `.`/`..` segments are refused (BadDirectory): they
    are how a directory outside a root passes for one inside it, and opencode
    would resolve a relative one against its own working directory.
    """
    if "\x00" in text:
        raise BadDirectory("the directory contains a NUL character")
    if not text.startswith("/"):
        raise BadDirectory(f"the directory {_shown(text)} is not an absolute path")
    path = _SLASHES.sub("/", text)
    if any(part in (".", "..") for part in path.split("/")):
        raise BadDirectory(f"the directory {_shown(text)} has . or .. segments")
    return path.rstrip("/") or "/"


def within(path: str, root: str) -> bool:
    """`path` is `root` or below it (both normalised)."""
    if root == "/":
        return True
    return path == root or path.startswith(root + "/")


def _shown(text: str) -> str:
    from core.model.text import escape_controls

    shown = escape_controls(text)
    return "'" + (shown[:200] + ("…" if len(shown) > 200 else "")) + "'"
