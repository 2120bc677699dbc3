"""The store file's shape, as pydantic models (the JSON Schema comes from here).

The file is a versioned JSON object:

    {"version": 3, "tokens": [TokenRecord, ...], "sessions": [SessionRecord, ...],
     "pairings": [PairingRecord, ...]}

Records never hold a secret, only its SHA-256 digest: a token's, a browser
session id's, a pairing code's. Unknown fields are refused (`extra="forbid"`): a
hand-edited `"expires": ...` typo must not silently mean "never expires".
Version 2 added `note` and `directories`; version 3 the browser sessions, the
pairings and `last_used_from`. An older file is read as it is (it cannot hold
what came later) and written as version 3 on the next change.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.model.directories import BadDirectory, normalize_directory
from core.model.names import MAX_NOTE_LEN
from core.model.permissions import EVERY_SET, Permission, canonical
from core.model.token_format import ID_PATTERN

STORE_VERSION: Final = 3
READABLE_VERSIONS = (1, 2, 3)
EXPIRING_WITHIN = timedelta(days=7)
SESSION_LIFETIME = timedelta(days=30)
"""A browser session of a token that never expires ends after this long (one of a
token that does ends with it, or sooner)."""
PAIRING_LIFETIME = timedelta(minutes=5)
MAX_CLIENT_LEN = 64
MAX_USER_AGENT_LEN = 200
_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
_SINCE_VERSION = {"note": 2, "directories": 2, "last_used_from": 3}
_SURROGATE = re.compile("[\ud800-\udfff]")


_LAZY: Final = True
"""`defer_build` for every model here: pydantic builds a model's validator and
serializer when it is first used, not when the class is made. `token list`
reads a file in the layout this program writes without them
(core/store/file/fast_records.py), and building them at import is ~20 ms of
every start (a quarter of `python -c "from pydantic import BaseModel"`)."""


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"  # expires within EXPIRING_WITHIN
    EXPIRED = "expired"


class TokenRecord(BaseModel):
    """One token's metadata. Immutable: the store replaces records, never edits them."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=_LAZY)

    id: str = Field(pattern=ID_PATTERN, description="Short public id, stable across rotation.")
    name: str = Field(min_length=1, description="Unique, human-chosen label.")
    permissions: tuple[Permission, ...] = Field(
        min_length=1, description="Subset of read, write, execute, in that order."
    )
    created_at: AwareDatetime = Field(description="When the current secret was issued (UTC).")
    expires_at: AwareDatetime | None = Field(description="Expiry (UTC); null means never.")
    last_used_at: AwareDatetime | None = Field(
        default=None,
        description="Last accepted request (UTC), at most once a minute; null if never.",
    )
    last_used_from: str | None = Field(
        default=None,
        max_length=MAX_CLIENT_LEN,
        description="The client address of that request; null if never or unknown. Version 3.",
    )
    hint: str = Field(
        min_length=1, max_length=64, description="Non-secret label: prefix and last 4 characters."
    )
    digest: str = Field(
        pattern=_DIGEST_PATTERN,
        description="SHA-256 of the full token text. The secret itself is never stored.",
    )
    legacy: bool = Field(
        default=False,
        description="True for a secret migrated from the PR #8217 format (not ocat_).",
    )
    note: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NOTE_LEN,
        description="What the token is for (free text); null if none. Version 2.",
    )
    directories: tuple[str, ...] = Field(
        default=(),
        description=(
            "Absolute directories the token may make opencode work in; empty means "
            "every directory the server serves. Version 2."
        ),
    )

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

    def public_dict(self, now: datetime) -> dict[str, Any]:
        """The record as JSON-ready data for output: file field names minus the
        digest, plus the derived `status`."""
        data = self.model_dump(mode="json", exclude={"digest"})
        data["status"] = self.status(now).value
        return data


Via = Literal["login", "pairing"]
VIAS: tuple[str, ...] = get_args(Via)


class SessionRecord(BaseModel):
    """One browser signed in as a token (its cookie holds the id whose digest is
    here). It ends with its token: deleting, rotating, expiring or editing the
    token's permissions, directories or expiry ends it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=_LAZY)

    id: str = Field(pattern=ID_PATTERN, description="Short public id (`session end ID`).")
    digest: str = Field(
        pattern=_DIGEST_PATTERN,
        description="SHA-256 of the session id the cookie holds (ocsess_...); never the id.",
    )
    token_id: str = Field(pattern=ID_PATTERN, description="The token the browser acts as.")
    created_at: AwareDatetime = Field(description="Sign-in time (UTC).")
    expires_at: AwareDatetime = Field(
        description="End of the session (UTC): never later than the token's expiry."
    )
    last_seen_at: AwareDatetime | None = Field(
        default=None, description="Last accepted request (UTC), in batches; null if none yet."
    )
    client: str | None = Field(
        default=None, max_length=MAX_CLIENT_LEN, description="Client address, last seen."
    )
    user_agent: str | None = Field(
        default=None,
        max_length=MAX_USER_AGENT_LEN,
        description="The browser's User-Agent as sent (escaped wherever it is shown).",
    )
    via: Via = Field(description="How it began: the login page, or a pairing link.")

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready, minus the digest."""
        return self.model_dump(mode="json", exclude={"digest"})


class PairingRecord(BaseModel):
    """A one-time pairing link not used yet: whoever opens it and presses the button
    is signed in as the token. Consuming it deletes it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=_LAZY)

    digest: str = Field(
        pattern=_DIGEST_PATTERN,
        description="SHA-256 of the pairing code the link holds (ocpair_...); never the code.",
    )
    token_id: str = Field(pattern=ID_PATTERN, description="The token the device will act as.")
    created_at: AwareDatetime = Field(description="When the link was made (UTC).")
    expires_at: AwareDatetime = Field(description="5 minutes later (UTC), or the token's expiry.")

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


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


class StoreDocument(BaseModel):
    """The whole store file."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        defer_build=_LAZY,
        title="opencode-auth-tui token store",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": (
                "auth-tokens.json as written by opencode-auth-tui: token metadata "
                "and SHA-256 digests, never secrets."
            ),
        },
    )

    version: Literal[1, 2, 3] = Field(
        description="Format version of this file: 3 (1 and 2 are read, and written as 3)."
    )
    tokens: tuple[TokenRecord, ...] = Field(default=())
    sessions: tuple[SessionRecord, ...] = Field(
        default=(), description="Browser sessions signed in as a token. Version 3."
    )
    pairings: tuple[PairingRecord, ...] = Field(
        default=(), description="Pairing links not used yet. Version 3."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _integer_version(cls, value: Any) -> Any:
        # Literal[1, 2, 3] alone also accepts true and 2.0 (they compare equal).
        if type(value) is not int:
            raise ValueError(f"version must be the integer {STORE_VERSION}")
        return value

    @model_validator(mode="after")
    def _whole_file_rules(self) -> StoreDocument:
        """The rules across records, checked in one pass after pydantic-core alone
        has parsed the records (no Python validator runs per record: the file is
        read on every change, at 100k tokens too). See `check_records` and
        `check_sessions`."""
        update: dict[str, Any] = {}
        checked = check_records(self.tokens, self.version, fresh=self.tokens)
        if checked is not self.tokens:
            update["tokens"] = tuple(checked)
        if self.version < 3:
            for field in ("sessions", "pairings"):
                if field in self.model_fields_set:
                    raise ValueError(
                        f"{field} needs store version 3 (the file says version {self.version})"
                    )
        elif self.sessions or self.pairings:
            sessions, pairings = check_sessions(
                self.sessions, self.pairings, {r.id for r in self.tokens}
            )
            if sessions is not self.sessions:
                update["sessions"] = sessions
            if pairings is not self.pairings:
                update["pairings"] = pairings
        return self.model_copy(update=update) if update else self


def check_records(
    tokens: Sequence[TokenRecord],
    version: int,
    *,
    fresh: Sequence[TokenRecord],
    unique: bool = True,
) -> Sequence[TokenRecord]:
    """`tokens` if they satisfy the file's rules, else ValueError saying which.

    Ids, names and digests are unique across all records. Each of the `fresh`
    records (just parsed; the others were checked before) is checked on its own:
    no field newer than the file's version, directories in canonical form (so a
    hand edit cannot smuggle in `..`), permissions in the order read, write,
    execute - a record in another order is put in order, and then a new list is
    returned. (`unique=False`: the caller checks uniqueness itself, incrementally.)
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
    newer = {field for field, since in _SINCE_VERSION.items() if since > version}
    for record in fresh:
        if newer:
            added = record.model_fields_set & newer
            if added:
                field = sorted(added)[0]
                raise ValueError(
                    f"{field} needs store version {_SINCE_VERSION[field]} "
                    f"(the file says version {version})"
                )
        if record.directories:
            _check_directories(record.directories)
        if record.permissions not in _CANONICAL_ORDERS:
            reordered[id(record)] = record.model_copy(
                update={"permissions": canonical(record.permissions)}
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


def build_models() -> None:
    """Build every model's validator and serializer now rather than on first use
    (`_LAZY`): for a process that must not import or build later - one that
    drops privileges after start, say."""
    for model in (TokenRecord, SessionRecord, PairingRecord, StoreDocument):
        model.model_rebuild()


def store_json_schema() -> dict[str, Any]:
    return StoreDocument.model_json_schema(mode="serialization")
