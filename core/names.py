"""Token name and note rules: plain text only (names 1-64 characters, notes up to 200)."""

from __future__ import annotations

from core.display import escape_controls, is_unsafe_char
from core.errors import InvalidName, InvalidNote

MAX_NAME_LEN = 64


def validate_name(raw: str) -> str:
    """The trimmed name, or InvalidName saying exactly what is wrong.

    Control characters (C0, C1, DEL), line separators and invisible format
    characters (bidi overrides, zero-width spaces) are refused, so a name can
    never carry a terminal escape sequence nor pass for another name.
    Uniqueness is checked by the store, which knows the other names.
    """
    name = raw.strip()
    if not name:
        raise InvalidName("name is empty; give 1 to 64 characters")
    if len(name) > MAX_NAME_LEN:
        raise InvalidName(f"name is {len(name)} characters long; the maximum is {MAX_NAME_LEN}")
    for ch in name:
        if is_unsafe_char(ch):
            raise InvalidName(
                f"name '{escape_controls(name)}' contains the control character "
                f"U+{ord(ch):04X}; names must be plain text"
            )
    return name


MAX_NOTE_LEN = 200


def validate_note(raw: str) -> str | None:
    """The trimmed note, None for an empty one (no note), or InvalidNote.

    The same characters as in names are refused: a note is shown in tables and
    details, and must not carry escape sequences or invisible text.
    """
    note = raw.strip()
    if not note:
        return None
    if len(note) > MAX_NOTE_LEN:
        raise InvalidNote(f"note is {len(note)} characters long; the maximum is {MAX_NOTE_LEN}")
    for ch in note:
        if is_unsafe_char(ch):
            raise InvalidNote(
                f"note '{escape_controls(note)}' contains the control character "
                f"U+{ord(ch):04X}; notes must be plain text on one line"
            )
    return note
