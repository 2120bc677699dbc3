"""The store's records: plain, immutable values, what every part of the program
passes around (the CLI, the TUI, the stores, the gateway's sign-in).

The file is a versioned JSON object:

    {"version": 3, "tokens": [TokenRecord, ...], "sessions": [SessionRecord, ...],
     "pairings": [PairingRecord, ...]}

Records never hold a secret, only its SHA-256 digest: a token's, a browser
session id's, a pairing code's. What a file must satisfy - each field's form, no
unknown field (`extra="forbid"`: a hand-edited `"expires": ...` typo must not
silently mean "never expires") - is said by the pydantic models in schema.py,
from which the JSON Schema comes, and the rules across records by
`check_records` and `check_sessions` below. A record is made either by the store,
from input checked on the way in (names.py, expiry.py, directories.py), or from a
file that passed those rules: a file in the layout this program writes by
core/store/file/fast_records.py, any other by the models. Nothing here imports
pydantic, so a command that reads and writes only such a file (`token list`,
`token create`) never does.

Version 2 added `note` and `directories`; version 3 the browser sessions, the
pairings and `last_used_from`. An older file is read as it is (it cannot hold
what came later) and written as version 3 on the next change.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal, get_args

from core.model.directories import BadDirectory, normalize_directory
from core.model.permissions import EVERY_SET, Permission, canonical

STORE_VERSION: Final = 3
READABLE_VERSIONS = (1, 2, 3)
EXPIRING_WITHIN = timedelta(days=7)
SESSION_LIFETIME = timedelta(days=30)
"""A browser session of a token that never expires ends after this long (one of a
token that does ends with it, or sooner)."""
PAIRING_LIFETIME = timedelta(minutes=5)
MAX_CLIENT_LEN = 64
MAX_USER_AGENT_LEN = 200
SINCE_VERSION: Final = {"note": 2, "directories": 2, "last_used_from": 3}
"""The fields a file of an older version cannot hold (schema.py refuses them)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_time(value: datetime) -> str:
    """An aware time as the file holds it, as pydantic writes it: ISO 8601 with
    `Z` for UTC, six digits of fraction when there is one, another offset in
    whole minutes."""
    text = value.isoformat()
    if text.endswith("+00:00"):  # UTC, as the store writes every time: the quick way
        return text[:-6] + "Z"
    text = value.replace(tzinfo=None).isoformat()
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("naive datetime: the store only holds timezone-aware times")
    seconds = int(offset.total_seconds())
    if seconds == 0 and not offset.microseconds:
        return text + "Z"
    sign = "-" if offset.days < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _json_time_or_none(value: datetime | None) -> str | None:
    return None if value is None else json_time(value)


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"  # expires within EXPIRING_WITHIN
    EXPIRED = "expired"


@dataclass(frozen=True, kw_only=True)
class TokenRecord:
    """One token's metadata (the fields of schema.TokenRecord, in the file's order).
    Immutable: the store replaces records, never edits them (`dataclasses.replace`)."""

    id: str
    name: str
    permissions: tuple[Permission, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = None
    last_used_from: str | None = None
    hint: str
    digest: str
    legacy: bool = False
    note: str | None = None
    directories: tuple[str, ...] = ()

    def status(self, now: datetime) -> TokenStatus:
        if self.expires_at is None:
            return TokenStatus.ACTIVE
        if now >= self.expires_at:
            return TokenStatus.EXPIRED
        if self.expires_at - now <= EXPIRING_WITHIN:
            return TokenStatus.EXPIRING
        return TokenStatus.ACTIVE

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The record as the file holds it: every field, in order, JSON-ready."""
        return {
            "id": self.id,
            "name": self.name,
            "permissions": [p.value for p in self.permissions],
            "created_at": json_time(self.created_at),
            "expires_at": _json_time_or_none(self.expires_at),
            "last_used_at": _json_time_or_none(self.last_used_at),
            "last_used_from": self.last_used_from,
            "hint": self.hint,
            "digest": self.digest,
            "legacy": self.legacy,
            "note": self.note,
            "directories": list(self.directories),
        }

    def public_dict(self, now: datetime) -> dict[str, Any]:
        """The record as JSON-ready data for output: file field names minus the
        digest, plus the derived `status`."""
        data = self.to_json()
        del data["digest"]
        data["status"] = self.status(now).value
        return data


Via = Literal["login", "pairing"]
VIAS: tuple[str, ...] = get_args(Via)


@dataclass(frozen=True, kw_only=True)
class SessionRecord:
    """One browser signed in as a token (its cookie holds the id whose digest is
    here). It ends with its token: deleting, rotating, expiring or editing the
    token's permissions, directories or expiry ends it."""

    id: str
    digest: str
    token_id: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None = None
    client: str | None = None
    user_agent: str | None = None
    via: Via

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The record as the file holds it: every field, in order, JSON-ready."""
        return {
            "id": self.id,
            "digest": self.digest,
            "token_id": self.token_id,
            "created_at": json_time(self.created_at),
            "expires_at": json_time(self.expires_at),
            "last_seen_at": _json_time_or_none(self.last_seen_at),
            "client": self.client,
            "user_agent": self.user_agent,
            "via": self.via,
        }

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready, minus the digest."""
        data = self.to_json()
        del data["digest"]
        return data


@dataclass(frozen=True, kw_only=True)
class PairingRecord:
    """A one-time pairing link not used yet: whoever opens it and presses the button
    is signed in as the token. Consuming it deletes it."""

    digest: str
    token_id: str
    created_at: datetime
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The record as the file holds it: every field, in order, JSON-ready."""
        return {
            "digest": self.digest,
            "token_id": self.token_id,
            "created_at": json_time(self.created_at),
            "expires_at": json_time(self.expires_at),
        }


def client_text(value: str | None, limit: int) -> str | None:
    """A client address or User-Agent as the store keeps it: cut to `limit`
    characters, text a JSON file can hold (a lone surrogate - how a server decodes
    a header's invalid UTF-8 - becomes U+FFFD, and so does NUL), None for
    nothing. Other control characters stay: they are escaped wherever the text
    is shown."""
    if value is None:
        return None
    clean = value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    clean = clean.replace("\x00", "\ufffd")[:limit]  # a database's text holds no NUL
    return clean or None


@dataclass(frozen=True)
class Document:
    """A whole store file's records, validated (schema.py)."""

    version: int
    tokens: tuple[TokenRecord, ...]
    sessions: tuple[SessionRecord, ...] = ()
    pairings: tuple[PairingRecord, ...] = ()


def check_records(
    tokens: Sequence[TokenRecord],
    *,
    fresh: Sequence[TokenRecord],
    unique: bool = True,
) -> Sequence[TokenRecord]:
    """`tokens` if they satisfy the file's rules, else ValueError saying which.

    Ids, names and digests are unique across all records. Each of the `fresh`
    records (just parsed; the others were checked before) is checked on its own:
    directories in canonical form (so a hand edit cannot smuggle in `..`),
    permissions in the order read, write, execute - a record in another order is
    put in order, and then a new list is returned. (`unique=False`: the caller
    checks uniqueness itself, incrementally. That no field is newer than the
    file's version is schema.py's to say: only the models see which fields a
    file named.)
    """
    for field, values in (
        ()
        if not unique
        else (
            ("id", [r.id for r in tokens]),
            ("name", [r.name for r in tokens]),
            ("digest", [r.digest for r in tokens]),
        )
    ):
        if len(set(values)) != len(values):
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    shown = "a digest" if field == "digest" else repr(value)
                    raise ValueError(f"two tokens share the {field} {shown}")
                seen.add(value)
    reordered: dict[int, TokenRecord] = {}
    for record in fresh:
        if record.directories:
            _check_directories(record.directories)
        if record.permissions not in _CANONICAL_ORDERS:
            reordered[id(record)] = dataclasses.replace(
                record, permissions=canonical(record.permissions)
            )
    if not reordered:
        return tokens
    return [reordered.get(id(r), r) for r in tokens]


def check_sessions(
    sessions: tuple[SessionRecord, ...],
    pairings: tuple[PairingRecord, ...],
    token_ids: Collection[str],
) -> tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]]:
    """The sessions and pairings if their ids and digests are unique (else
    ValueError), without those whose token is not in `token_ids`: a session ends
    with its token, also when a token is deleted from the file by hand. (The
    tuples given are returned as they are when nothing was dropped.)"""
    for what, values in (
        ("sessions share an id", [s.id for s in sessions]),
        ("sessions share a digest", [s.digest for s in sessions]),
        ("pairings share a digest", [p.digest for p in pairings]),
    ):
        if len(set(values)) != len(values):
            raise ValueError(f"two {what}")
    if any(s.token_id not in token_ids for s in sessions):
        sessions = tuple(s for s in sessions if s.token_id in token_ids)
    if any(p.token_id not in token_ids for p in pairings):
        pairings = tuple(p for p in pairings if p.token_id in token_ids)
    return sessions, pairings


_CANONICAL_ORDERS = frozenset(EVERY_SET)


def _check_directories(value: tuple[str, ...]) -> None:
    for directory in value:
        try:
            clean = normalize_directory(directory)
        except BadDirectory as exc:
            raise ValueError(f"directories: {exc}") from None
        if clean != directory:
            raise ValueError(f"directories: '{directory}' is not in canonical form ({clean})")
    if len(set(value)) != len(value):
        raise ValueError("directories: a directory is listed twice")
