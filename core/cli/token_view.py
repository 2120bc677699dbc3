"""A token as the CLI shows it: the 80-column table of `token list`, the detail
rows of `token show`/`edit`, and how a record is named in a sentence.

Every name, note and directory passes `escape_controls`: they can come from a
hand-edited file, and must never move the cursor or recolour the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.model.permissions import Permission
from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls, format_timestamp
from core.present import fit, permission_letters, relative_time

_STATUS_STYLE = {TokenStatus.EXPIRING: "33", TokenStatus.EXPIRED: "31"}

_COLUMNS = (
    ("ID", 8),
    ("NAME", 22),
    ("PERMS", 5),
    ("EXPIRES", 15),
    ("STATUS", 8),
    ("LAST USED", 12),
)


def label(record: TokenRecord) -> str:
    """`'name' (id abcd1234)`: a token named in a sentence."""
    return f"'{escape_controls(record.name)}' (id {record.id})"


def table(records: Sequence[TokenRecord], now: datetime, *, color: bool) -> list[str]:
    """An aligned table that fits 80 columns; names escaped and cut to fit.

    Written for 100,000 rows: what repeats (the permissions, the status cell and
    its colour) is worked out once, and each row is one f-string."""
    gap = "  "
    lines = [gap.join(fit(title, width) for title, width in _COLUMNS).rstrip()]
    status_cell = {
        status: (
            f"\x1b[{_STATUS_STYLE[status]}m{fit(status.value, 8)}\x1b[0m"
            if color and status in _STATUS_STYLE
            else fit(status.value, 8)
        )
        for status in TokenStatus
    }
    perms_cell: dict[tuple[Permission, ...], str] = {}
    for record in records:
        perms = perms_cell.get(record.permissions)
        if perms is None:
            perms = perms_cell[record.permissions] = fit(permission_letters(record.permissions), 5)
        expires = "never" if record.expires_at is None else relative_time(record.expires_at, now)
        used = "never" if record.last_used_at is None else relative_time(record.last_used_at, now)
        name = record.name
        if not name.isascii() or not name.isprintable():
            name = escape_controls(name)
        lines.append(
            f"{fit(record.id, 8)}{gap}{fit(name, 22)}{gap}{perms}{gap}{fit(expires, 15)}"
            f"{gap}{status_cell[record.status(now)]}{gap}{fit(used, 12)}".rstrip()
        )
        if record.directories:  # only in these directories: said under the row
            lines.append(fit("          in " + describe_directories(record), 80).rstrip())
    return lines


def describe_expiry(record: TokenRecord, now: datetime) -> str:
    if record.expires_at is None:
        return "never expires"
    verb = "expired" if record.is_expired(now) else "expires"
    when = relative_time(record.expires_at, now)
    return f"{verb} {format_timestamp(record.expires_at)} ({when})"


def describe_directories(record: TokenRecord) -> str:
    if not record.directories:
        return "every directory the server serves"
    return ", ".join(escape_controls(d) for d in record.directories)


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{format_timestamp(moment)} ({relative_time(moment, now)})"


def _last_used(record: TokenRecord, now: datetime) -> str:
    when = _when(record.last_used_at, now)
    if record.last_used_at is None or record.last_used_from is None:
        return when
    return f"{when} from {escape_controls(record.last_used_from)}"


def _abilities(record: TokenRecord) -> str:
    from pathlib import Path

    from core.present import abilities

    return abilities(record.permissions, record.directories, Path.home()).sentence()


def detail_rows(record: TokenRecord, now: datetime) -> list[tuple[str, str]]:
    """`token show`: one (label, value) row per fact, never the secret."""
    rows = [
        ("id", record.id),
        ("name", escape_controls(record.name)),
        ("note", "none" if record.note is None else escape_controls(record.note)),
        ("permissions", ", ".join(p.value for p in record.permissions)),
        ("directories", describe_directories(record)),
        ("on opencode", _abilities(record)),
        ("status", record.status(now).value),
        ("created", _when(record.created_at, now)),
        ("expires", _when(record.expires_at, now)),
        ("last used", _last_used(record, now)),
        ("hint", escape_controls(record.hint)),
    ]
    if record.legacy:
        rows.append(("format", "legacy PR #8217 secret (rotate it to get an ocat_ token)"))
    return rows
