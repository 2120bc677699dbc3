"""The store file's shape as pydantic models: what a file must satisfy, field by
field, and the JSON Schema (`opencode-auth-tui schema`).

The models validate; the program works with the plain records they give
(records.py `TokenRecord`, `SessionRecord`, `PairingRecord`): a file in any
layout but the one this program writes, a block or tail changed by another
writer, a PostgreSQL row. A file in that layout is read without them
(core/store/file/fast_records.py, which tests hold to these models field by
field), and so is everything the store makes from checked input - so a command
that only reads (`token list`) or adds one token (`token create`) imports no
pydantic. The models' names are the JSON Schema's.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from core.model import records
from core.model.names import MAX_NOTE_LEN
from core.model.permissions import Permission
from core.model.records import (
    MAX_CLIENT_LEN,
    MAX_USER_AGENT_LEN,
    SINCE_VERSION,
    STORE_VERSION,
    Document,
    Via,
    check_records,
    check_sessions,
)
from core.model.token_format import ID_PATTERN

_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"

_LAZY: Final = True
"""`defer_build` for every model here: pydantic builds a model's validator and
serializer when it is first used, not when the class is made (a process that
imports this module may never validate)."""


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

    def record(self) -> records.TokenRecord:
        return records.TokenRecord(**self.__dict__)


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

    def record(self) -> records.SessionRecord:
        return records.SessionRecord(**self.__dict__)


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

    def record(self) -> records.PairingRecord:
        return records.PairingRecord(**self.__dict__)


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

    _document: Document | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _whole_file_rules(self) -> StoreDocument:
        """The rules across records, checked in one pass after pydantic-core alone
        has parsed the records (no Python validator runs per record: the file is
        read on every change, at 100k tokens too), on the plain records the
        program gets (`document`). See records.py `check_records` and
        `check_sessions`."""
        newer = {field for field, since in SINCE_VERSION.items() if since > self.version}
        if newer:
            for token in self.tokens:
                added = token.model_fields_set & newer
                if added:
                    field = sorted(added)[0]
                    raise ValueError(
                        f"{field} needs store version {SINCE_VERSION[field]} "
                        f"(the file says version {self.version})"
                    )
        plain = [token.record() for token in self.tokens]
        tokens = tuple(check_records(plain, fresh=plain))
        sessions = tuple(s.record() for s in self.sessions)
        pairings = tuple(p.record() for p in self.pairings)
        if self.version < 3:
            for field in ("sessions", "pairings"):
                if field in self.model_fields_set:
                    raise ValueError(
                        f"{field} needs store version 3 (the file says version {self.version})"
                    )
        elif sessions or pairings:
            sessions, pairings = check_sessions(sessions, pairings, {r.id for r in tokens})
        self._document = Document(self.version, tokens, sessions, pairings)
        return self

    def document(self) -> Document:
        """The file's plain records, as the rules left them (permissions in order,
        the sessions of a token not there dropped)."""
        assert self._document is not None  # set by every validation
        return self._document


class Tail(BaseModel):
    """The file's tail in the canonical layout: the sessions and pairings (the same
    fields as StoreDocument's)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=_LAZY)

    sessions: tuple[SessionRecord, ...] = ()
    pairings: tuple[PairingRecord, ...] = ()


def parse_document_json(data: bytes) -> Document:
    """A whole file's records, validated strictly (ValidationError, a ValueError,
    saying where a rule is broken)."""
    return StoreDocument.model_validate_json(data, strict=True).document()


def parse_document(obj: Any) -> Document:
    """The same, from Python data (a converted old-format file)."""
    return StoreDocument.model_validate(obj).document()


def parse_block(block: bytes) -> records.TokenRecord:
    """One token's block of a file in the canonical layout (its lines without the
    braces: core/store/file/format.py), validated strictly."""
    return TokenRecord.model_validate_json(b"{\n" + block + b"\n}", strict=True).record()


def parse_tail(
    tail: bytes,
) -> tuple[tuple[records.SessionRecord, ...], tuple[records.PairingRecord, ...]]:
    """The sessions and pairings of a file's tail in the canonical layout, validated
    strictly (before the rules across records: `check_sessions`)."""
    parsed = Tail.model_validate_json(b"{\n" + tail, strict=True)
    return (
        tuple(s.record() for s in parsed.sessions),
        tuple(p.record() for p in parsed.pairings),
    )


def build_models() -> None:
    """Build every model's validator and serializer now rather than on first use
    (`_LAZY`): for a process that must not import or build later - one that
    drops privileges after start, say."""
    for model in (TokenRecord, SessionRecord, PairingRecord, StoreDocument, Tail):
        model.model_rebuild()


def store_json_schema() -> dict[str, Any]:
    return StoreDocument.model_json_schema(mode="serialization")
