"""The store file's shape, as pydantic models (the JSON Schema comes from here).

The file is a versioned JSON object:

    {"version": 2, "tokens": [TokenRecord, ...]}

Records never hold a secret, only its SHA-256 digest. Unknown fields are refused
(`extra="forbid"`): a hand-edited `"expires": ...` typo must not silently mean
"never expires". Version 2 added `note` and `directories`; a version 1 file is
read as it is (it cannot hold them) and written as version 2 on the next change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.model.directories import BadDirectory, normalize_directory
from core.model.names import MAX_NOTE_LEN
from core.model.permissions import Permission, canonical
from core.model.token_format import ID_PATTERN

STORE_VERSION: Final = 2
READABLE_VERSIONS = (1, 2)
EXPIRING_WITHIN = timedelta(days=7)


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"  # expires within EXPIRING_WITHIN
    EXPIRED = "expired"


class TokenRecord(BaseModel):
    """One token's metadata. Immutable: the store replaces records, never edits them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    hint: str = Field(
        min_length=1, max_length=64, description="Non-secret label: prefix and last 4 characters."
    )
    digest: str = Field(
        pattern=r"^sha256:[0-9a-f]{64}$",
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


class StoreDocument(BaseModel):
    """The whole store file."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="opencode-auth-tui token store",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": (
                "auth-tokens.json as written by opencode-auth-tui: token metadata "
                "and SHA-256 digests, never secrets."
            ),
        },
    )

    version: Literal[1, 2] = Field(
        description="Format version of this file: 2 (1 is read, and written as 2)."
    )
    tokens: tuple[TokenRecord, ...] = Field(default=())

    @field_validator("version", mode="before")
    @classmethod
    def _integer_version(cls, value: Any) -> Any:
        # Literal[1, 2] alone also accepts true and 2.0 (they compare equal).
        if type(value) is not int:
            raise ValueError("version must be the integer 2")
        return value

    @model_validator(mode="after")
    def _whole_file_rules(self) -> StoreDocument:
        """The rules across records, checked in one pass after pydantic-core alone
        has parsed the records (no Python validator runs per record: the file is
        read on every change, at 100k tokens too). See `check_records`."""
        checked = check_records(self.tokens, self.version, fresh=self.tokens)
        if checked is not self.tokens:
            return self.model_copy(update={"tokens": tuple(checked)})
        return self


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
    no version 2 field in a version 1 file, directories in canonical form (so a
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
    for record in fresh:
        if version == 1:
            added = record.model_fields_set & {"note", "directories"}
            if added:
                raise ValueError(
                    f"{sorted(added)[0]} needs store version 2 (the file says version 1)"
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


_CANONICAL_ORDERS = frozenset(
    canonical(combo)
    for combo in (
        (Permission.READ,),
        (Permission.WRITE,),
        (Permission.EXECUTE,),
        (Permission.READ, Permission.WRITE),
        (Permission.READ, Permission.EXECUTE),
        (Permission.WRITE, Permission.EXECUTE),
        (Permission.READ, Permission.WRITE, Permission.EXECUTE),
    )
)


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


def store_json_schema() -> dict[str, Any]:
    return StoreDocument.model_json_schema(mode="serialization")
