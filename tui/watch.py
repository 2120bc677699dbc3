"""Noticing that the store file changed, with one `stat` and no read.

The main screen and the store-problem screens poll with this: a change made
by the CLI in another terminal shows up within a second, and a store that was
fixed (or migrated) elsewhere brings the main screen back by itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.store import Fingerprint

UNREADABLE = Fingerprint(-1, -1, -1, -1, -1)
"""`stat` failed for another reason than a missing file: a read will say why."""


def file_version(path: Path) -> Fingerprint | None:
    """The file's current version; None if there is no file."""
    try:
        return Fingerprint.of(os.stat(path))
    except FileNotFoundError:
        return None
    except OSError:
        return UNREADABLE
