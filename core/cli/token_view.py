"""A token as the CLI shows it: the 80-column table of `token list`, the detail
rows of `token show`/`edit`, and how a record is named in a sentence.

Every name, note and directory passes `escape_controls`: they can come from a
hand-edited file, and must never move the cursor or recolour the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.model.permissions import Permission
from core.model.records import EXPIRING_WITHIN, TokenRecord, TokenStatus
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

    Written for 100,000 rows: what repeats (the permissions, the status, the
    texts of the time columns) is made into its cell once, and each row is one
    f-string. An id needs no cutting: the store holds only 8-character ones."""
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
    active, expiring, expired = (
        status_cell[s] for s in (TokenStatus.ACTIVE, TokenStatus.EXPIRING, TokenStatus.EXPIRED)
    )
    expiring_from = now + EXPIRING_WITHIN
    perms_cell: dict[tuple[Permission, ...], str] = {}
    expires_cell = {"never": fit("never", 15)}
    used_cell = {"never": "never"}  # the last column: never padded
    append = lines.append
    for record in records:
        perms = perms_cell.get(record.permissions)
        if perms is None:
            perms = perms_cell[record.permissions] = fit(permission_letters(record.permissions), 5)
        expires_at = record.expires_at
        if expires_at is None:
            expires, status = expires_cell["never"], active
        else:
            when = relative_time(expires_at, now)
            expires = expires_cell.get(when) or expires_cell.setdefault(when, fit(when, 15))
            # TokenRecord.status, without a call and a subtraction per row
            if now >= expires_at:
                status = expired
            else:
                status = expiring if expires_at <= expiring_from else active
        last_used = record.last_used_at
        when = "never" if last_used is None else relative_time(last_used, now)
        used = used_cell.get(when) or used_cell.setdefault(when, fit(when, 12).rstrip())
        name = record.name
        if not name.isascii() or not name.isprintable():
            name = escape_controls(name)
        append(f"{record.id}{gap}{fit(name, 22)}{gap}{perms}{gap}{expires}{gap}{status}{gap}{used}")
        if record.directories:  # only in these directories: said under the row
            append(fit("          in " + describe_directories(record), 80).rstrip())
    return lines


def describe_permissions(permissions: Sequence[Permission]) -> str:
    """`read, execute (preset watch: watch sessions)`: the permissions, and the
    preset they make, if any (the name a `--preset` takes)."""
    from core.authz.presets import preset_of

    words = ", ".join(p.value for p in permissions)
    found = preset_of(permissions)
    return words if found is None else f"{words} (preset {found.name}: {found.title})"


def summary(record: TokenRecord, now: datetime) -> str:
    """`'ci' (id abcd1234): read, execute (preset watch: watch sessions); expires
    ...; only in /home/me/app`: what a command just made, directories absolute."""
    line = f"{label(record)}: {describe_permissions(record.permissions)}; "
    line += describe_expiry(record, now)
    if record.directories:
        line += f"; only in {describe_directories(record)}"
    return line


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
        ("permissions", describe_permissions(record.permissions)),
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
