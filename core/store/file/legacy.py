"""The PR #8217 file format, recognised so it can be migrated.

That format is a bare JSON array:

    [{"token": "<plain text>", "permissions": ["read", ...],
      "createdAt": 1736700000000, "expiresAt": 1744476000000 | null, "name": "ci"}]

Secrets in plain text and epoch-millisecond times. `convert` turns each entry into
a `TokenRecord` holding only the SHA-256 digest of the old secret (marked
`legacy`), so the old secret keeps authorizing after migration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.model.permissions import Permission, canonical
from core.model.text import escape_controls
from core.model.token_format import digest, make_hint

_MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


class LegacyEntry(BaseModel):
    # Built on first use: only `migrate` needs it, so no start-up cost elsewhere.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    token: str = Field(min_length=1)
    permissions: tuple[Permission, ...] = Field(min_length=1)
    createdAt: int = Field(ge=0, le=_MAX_EPOCH_MS)  # the old camelCase field names
    expiresAt: int | None = Field(default=None, ge=0, le=_MAX_EPOCH_MS)
    name: str | None = None


class LegacyFormatError(ValueError):
    """The array looks like the old format but an entry is unusable (no secret leaks here)."""


def looks_legacy(obj: Any) -> bool:
    """A bare array whose items are objects with a `token` field (or an empty array)."""
    return isinstance(obj, list) and all(isinstance(item, dict) and "token" in item for item in obj)


def parse_legacy(obj: list[Any]) -> tuple[LegacyEntry, ...]:
    entries: list[LegacyEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(obj):
        try:
            entry = LegacyEntry.model_validate(item)
        except ValidationError as exc:
            err = exc.errors(include_input=False)[0]
            where = ".".join(str(part) for part in err["loc"]) or "entry"
            raise LegacyFormatError(f"entry {index}: {where}: {err['msg']}") from None
        if entry.token in seen:
            raise LegacyFormatError(
                f"entries {seen[entry.token]} and {index} hold the same secret; "
                "remove one by hand, then migrate"
            )
        seen[entry.token] = index
        entries.append(entry)
    return tuple(entries)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=UTC)


def convert(
    entries: tuple[LegacyEntry, ...],
    *,
    new_id: Callable[[set[str]], str],
    generated_name: Callable[[set[str]], str],
) -> list[dict[str, Any]]:
    """Records (as validated-ready dicts) for `entries`: names made unique, secrets hashed."""
    records: list[dict[str, Any]] = []
    ids: set[str] = set()
    names: set[str] = set()
    folded: set[str] = set()
    for entry in entries:
        name = (entry.name or "").strip() or generated_name(names)
        base, n = name, 2
        while name.casefold() in folded:
            name = f"{base} ({n})"
            n += 1
        names.add(name)
        folded.add(name.casefold())
        token_id = new_id(ids)
        ids.add(token_id)
        records.append(
            {
                "id": token_id,
                "name": name,
                "permissions": canonical(entry.permissions),
                "created_at": _from_ms(entry.createdAt),
                "expires_at": None if entry.expiresAt is None else _from_ms(entry.expiresAt),
                "last_used_at": None,
                "hint": escape_controls(make_hint(entry.token))[:64],
                "digest": digest(entry.token),
                "legacy": True,
            }
        )
    return records
