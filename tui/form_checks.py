"""A token form's name and note, checked as typed with core's rules
(`validate_name`, `validate_note`) and the store's: no two tokens share a name
(any case), and no name is another token's id."""

from __future__ import annotations

from collections.abc import Hashable

from core.model.errors import InvalidName, InvalidNote
from core.model.names import validate_name, validate_note
from core.model.records import TokenRecord
from core.model.text import escape_controls
from core.store import Snapshot


def name_problem(
    raw: str, snapshot: Snapshot[Hashable], current: TokenRecord | None = None
) -> str | None:
    """Why `raw` cannot be the token's name, or None.

    For a new token (`current` None) the empty name is allowed (a generated one
    is used); for a token being edited its own name is, as it is.
    """
    if current is not None:
        if raw == current.name:
            return None
        if raw.strip() == "":
            return "a token needs a name"
    elif raw == "":
        return None
    try:
        name = validate_name(raw)
    except InvalidName as exc:
        return exc.message
    folded = name.casefold()
    for record in snapshot.records:
        if current is not None and record.id == current.id:
            continue
        if record.name.casefold() == folded:
            return f"a token named {escape_controls(record.name)!r} already exists (id {record.id})"
        if record.id == name:
            return f"{name!r} is another token's id; choose a different name"
    return None


def note_problem(raw: str) -> str | None:
    try:
        validate_note(raw)
    except InvalidNote as exc:
        return exc.message
    return None
