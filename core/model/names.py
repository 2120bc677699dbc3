"""Token name and note rules: plain text only (names 1-64 characters, notes up to 200)."""

from __future__ import annotations

import re
import unicodedata

from core.model.errors import InputError, InvalidName, InvalidNote
from core.model.text import escape_controls, is_unsafe_char
from core.model.token_format import PREFIX

MAX_NAME_LEN = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def describe_char(ch: str) -> str:
    """`the control character U+001B`, `the invisible format character U+200B`..."""
    category = unicodedata.category(ch)
    kind = {
        "Cc": "control character",
        "Cf": "invisible format character",
        "Zl": "line separator",
        "Zp": "paragraph separator",
    }.get(category, "character")
    return f"the {kind} U+{ord(ch):04X}"


def require_plain_text(
    text: str, what: str, error: type[InputError], *, plural: str | None = None
) -> None:
    """Refuse text a terminal would act on or hide: control and invisible format
    characters, line separators, and undecodable bytes (surrogates)."""
    if _SURROGATE.search(text):
        raise error(f"{what} is not valid UTF-8 text; type it in a UTF-8 terminal")
    for ch in text:
        if is_unsafe_char(ch):
            raise error(
                f"{what} '{escape_controls(text)}' contains {describe_char(ch)}; "
                f"{plural or what + 's'} must be plain text"
            )


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
    require_plain_text(name, "name", InvalidName)
    if name.lower().startswith(PREFIX):
        # A name is shown everywhere and stored in clear: a pasted secret must not become one.
        raise InvalidName(
            "name starts with ocat_, like a token secret; names are shown everywhere and "
            "stored in clear, so choose another"
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
    require_plain_text(note, "note", InvalidNote)
    if re.search(r"ocat_[0-9A-Za-z]{20,}", note):
        raise InvalidNote("note holds what looks like a token secret; notes are stored in clear")
    return note
