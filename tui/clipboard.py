"""Getting a secret onto the clipboard, and off it again.

Two routes, tried in order:

1. The system clipboard through pyperclip (xclip, wl-copy, pbcopy, ...). It can
   block, so it runs in a thread worker.
2. OSC 52 through Textual's `App.copy_to_clipboard`: the terminal itself puts
   the text on the clipboard of the machine the terminal runs on. This is what
   works over SSH, where there is no system clipboard to reach. It cannot be read
   back, and some terminals ignore it, so the user is told which route was used.

After a copy, the clipboard is cleared once `clear_after` seconds have passed -
but only if it still holds the secret, which is checked against a SHA-256
digest kept for that purpose (the secret itself is not kept anywhere here).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

DEFAULT_CLEAR_AFTER = 45.0


class ClipboardBackend(Protocol):
    """The system clipboard. Either method raises if there is none."""

    def copy(self, text: str) -> None: ...

    def paste(self) -> str: ...


class PyperclipBackend:
    """The real system clipboard (imported lazily: pyperclip probes the system)."""

    def copy(self, text: str) -> None:
        import pyperclip  # type: ignore[import-untyped]

        pyperclip.copy(text)

    def paste(self) -> str:
        import pyperclip

        return str(pyperclip.paste())


class CopyRoute(StrEnum):
    SYSTEM = "system clipboard"
    OSC52 = "terminal clipboard (OSC 52)"


def fingerprint(text: str) -> bytes:
    """SHA-256 of `text`: enough to recognise the secret later, useless to recover it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def holds(current: str | None, digest: bytes) -> bool:
    """Whether `current` (what the clipboard holds now) is the text behind `digest`."""
    if current is None:
        return False
    return hmac.compare_digest(fingerprint(current), digest)


NO_CLIPBOARD = "no clipboard tool (xclip, xsel, wl-copy) or no display"


def describe_failure(error: BaseException) -> str:
    """A one-line reason pyperclip gave up (its messages run to several lines)."""
    text = str(error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    if "could not find a copy/paste mechanism" in first:
        return NO_CLIPBOARD
    return first[:120]


def copy_text(
    text: str, system: ClipboardBackend, terminal: Callable[[str], None]
) -> tuple[CopyRoute, str | None]:
    """Put `text` on the system clipboard, else send it to the terminal's (OSC 52).

    Blocks (pyperclip can), so call it from a thread worker. Returns the route
    taken and, for OSC 52, why the system clipboard could not be used.
    """
    try:
        system.copy(text)
    except Exception as exc:
        terminal(text)
        return CopyRoute.OSC52, describe_failure(exc)
    return CopyRoute.SYSTEM, None
