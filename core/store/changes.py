"""What a change of the store works on (`Changing`), and the checks and helpers
the operations share: permissions, directories, names, usage batches."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from core.model.clock import to_utc
from core.model.directories import BadDirectory, normalize_directory
from core.model.errors import (
    DuplicateName,
    InvalidDirectory,
    InvalidPermissions,
)
from core.model.names import require_plain_text
from core.model.permissions import ALL_PERMISSIONS, Permission, canonical, parse_permissions
from core.model.records import (
    MAX_CLIENT_LEN,
    PairingRecord,
    SessionRecord,
    TokenRecord,
    client_text,
)
from core.model.text import escape_controls

T = TypeVar("T")

Used = datetime | tuple[datetime, str | None]
"""One token's use for `record_usage`: when, and from which client address (a bare
time: the address is not known)."""

ENDS_SESSIONS = frozenset({"permissions", "directories", "expires_at"})
"""The fields whose change by `edit` ends the token's sessions and pairings: what
a session may do. A new name or note changes nothing it may do."""


@dataclass
class Changing:
    """What a change works on: the store's records as the engine read them under
    its lock, changed in place. An engine stores what differs (by identity) from
    what it read, all or nothing."""

    tokens: list[TokenRecord]
    sessions: list[SessionRecord]
    pairings: list[PairingRecord]

    def end_of(self, token_ids: Collection[str]) -> tuple[SessionRecord, ...]:
        """Remove the sessions and pairings of these tokens; the sessions ended."""
        if not token_ids:
            return ()
        ended = tuple(s for s in self.sessions if s.token_id in token_ids)
        if ended:
            self.sessions[:] = [s for s in self.sessions if s.token_id not in token_ids]
        if any(p.token_id in token_ids for p in self.pairings):
            self.pairings[:] = [p for p in self.pairings if p.token_id not in token_ids]
        return ended

    def drop_expired(self, now: datetime) -> None:
        """Sessions and pairings past their end leave at every change."""
        if any(s.is_expired(now) for s in self.sessions):
            self.sessions[:] = [s for s in self.sessions if not s.is_expired(now)]
        if any(p.is_expired(now) for p in self.pairings):
            self.pairings[:] = [p for p in self.pairings if not p.is_expired(now)]


def usage_batch(used: Mapping[str, Used]) -> dict[str, tuple[datetime, str | None]]:
    """`record_usage`'s batch as (time in UTC, whole seconds; client address cut to
    what the store keeps) per token id."""
    batch: dict[str, tuple[datetime, str | None]] = {}
    for token_id, use in used.items():
        when, client = use if isinstance(use, tuple) else (use, None)
        batch[token_id] = (
            to_utc(when).replace(microsecond=0),
            client_text(client, MAX_CLIENT_LEN),
        )
    return batch


def mark_seen(
    sessions: list[SessionRecord], batch: Mapping[str, tuple[datetime, str | None]]
) -> int:
    """`record_session_seen`'s change, in place: each session in `batch` (UTC
    whole-second time, client) gets the later of its `last_seen_at` and the
    batch's time, and the client address when one is given. How many changed."""
    changed = 0
    for i, session in enumerate(sessions):
        got = batch.get(session.id)
        if got is None:
            continue
        when, client = got
        if session.last_seen_at is None or when > session.last_seen_at:
            sessions[i] = dataclasses.replace(
                session, last_seen_at=when, client=session.client if client is None else client
            )
            changed += 1
    return changed


def permissions_of(value: str | Iterable[Permission] | None) -> tuple[Permission, ...]:
    if value is None:
        return canonical(ALL_PERMISSIONS)
    if isinstance(value, str):
        return parse_permissions(value)
    try:
        perms = canonical(Permission(p) for p in value)
    except ValueError:
        raise InvalidPermissions("permissions: choose from read, write, execute") from None
    if not perms:
        raise InvalidPermissions("permissions: at least one of read, write, execute is required")
    return perms


def clean_directories(directories: Iterable[str]) -> tuple[str, ...]:
    """A token's directories: absolute, canonical, each once, in the order given.

    Plain text only, as names are: a directory is shown in tables, details and
    the access log, and a pasted escape sequence or newline is a mistake.
    """
    if isinstance(directories, str):
        raise TypeError("directories is a list of paths, not a single string")
    out: dict[str, None] = {}
    for raw in directories:
        try:
            clean = normalize_directory(raw.strip())
        except BadDirectory as exc:
            raise InvalidDirectory(f"directory: {exc}") from None
        require_plain_text(clean, "directory", InvalidDirectory, plural="directories")
        out[clean] = None
    return tuple(out)


def check_name_free(name: str, records: Iterable[TokenRecord]) -> None:
    folded = name.casefold()
    for record in records:
        if record.name.casefold() == folded:
            raise DuplicateName(
                f"a token named '{escape_controls(record.name)}' already exists (id {record.id})"
            )
        if record.id == name:
            raise DuplicateName(f"'{name}' is another token's id; choose a different name")


@functools.cache
def _generated_pattern(stem: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(stem)}-([0-9]{{1,9}})", re.IGNORECASE)


def generated_name(taken: Collection[str], stem: str = "token") -> str:
    """`token-N` (or `<stem>-N`: `device-N` for `pair`), with N one above the
    highest such name in use.

    Names are unique case-insensitively, so `TOKEN-3` written by hand counts too.
    """
    start = f"{stem.casefold()}-"
    folded = {name.casefold() for name in taken}
    pattern = _generated_pattern(stem)
    odd: Iterable[str] = taken
    highest = 0
    if stem.isascii():
        # An ASCII name folds by lower(), and then this is exactly what the
        # regex matches - without a regex per name (10k names: 7 ms -> 3 ms).
        # The others (few) take the regex.
        cut = len(start)
        numbers = [
            rest
            for rest in (n[cut:] for n in taken if n.isascii() and n[:cut].lower() == start)
            if 0 < len(rest) <= 9 and rest.isdigit()
        ]
        highest = max(map(int, numbers), default=0)
        odd = [name for name in taken if not name.isascii()]
    for name in odd:
        if name.casefold().startswith(start):  # the regex only where it can match
            match = pattern.fullmatch(name)
            if match:
                highest = max(highest, int(match.group(1)))
    n = highest + 1
    while f"{start}{n}" in folded:
        n += 1
    return f"{stem}-{n}"
