"""A record's fields as the TUI writes them: relative times, status, a safe name.

The table, the details screen and the secret screen all say "in 89 days" or
"expired 2 days ago" the same way; this is the one place that decides how.
Names are made safe here: a name holding an escape sequence (hand-written into
the file) is shown with its control characters escaped, never interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from rich.cells import cell_len

from core.model.permissions import Permission
from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls
from core.present import permission_letters, relative_time, shorten


def long_permissions(perms: Iterable[Permission]) -> str:
    return ", ".join(p.value for p in perms)


_PERMS_TEXT: dict[tuple[Permission, ...], str] = {}


def perms_text(perms: tuple[Permission, ...]) -> str:
    """The permission letters (`rw-`), kept per set: a table has few distinct sets."""
    text = _PERMS_TEXT.get(perms)
    if text is None:
        text = _PERMS_TEXT[perms] = permission_letters(perms)
    return text


def expires_text(record: TokenRecord, now: datetime) -> str:
    """`in 89 days`, `expired 2 days ago` or `never`."""
    if record.expires_at is None:
        return "never"
    if record.expires_at > now:
        return relative_time(record.expires_at, now)
    return f"expired {relative_time(record.expires_at, now)}"


def expires_cell(record: TokenRecord, now: datetime) -> str:
    """The table's `expires` cell: `in 89 days`, `never`, or for an expired token
    just `2 days ago` - the status column beside it already says `expired`."""
    if record.expires_at is None:
        return "never"
    return relative_time(record.expires_at, now)


def directories_summary(directories: Iterable[str], home: Path | None) -> str:
    """`every directory` or `only in ~/src/app, /srv/www` (escaped, `~` for home)."""
    shown = [escape_controls(shorten(d, home)) for d in directories]
    return "only in " + ", ".join(shown) if shown else "every directory"


def token_summary(record: TokenRecord, now: datetime, home: Path | None) -> str:
    """One line about a token just issued: `id x · read, write · expires in 90 days ·
    only in ~/src/app` (the secret and pairing modals)."""
    return (
        f"id {record.id} · {long_permissions(record.permissions)} · "
        f"expires {expires_text(record, now)} · {directories_summary(record.directories, home)}"
    )


def last_used_text(record: TokenRecord, now: datetime) -> str:
    if record.last_used_at is None:
        return "never"
    return relative_time(record.last_used_at, now)


LEGACY_MARK = " (legacy)"


def status_text(record: TokenRecord, status: TokenStatus) -> str:
    """`active`, `expiring`, `expired`; a PR #8217 secret is marked `active (legacy)`."""
    return status.value + (LEGACY_MARK if record.legacy else "")


def display_name(record: TokenRecord) -> str:
    """The name as it may reach a terminal: control characters made visible."""
    name = record.name
    # Printable ASCII has nothing to escape (the common case, and 50x faster).
    return name if name.isascii() and name.isprintable() else escape_controls(name)


def text_width(text: str) -> int:
    """Terminal cells `text` takes (ASCII: its length)."""
    return len(text) if text.isascii() else cell_len(text)
