"""The store file's canonical layout, and reading it again cheaply after a change.

What this program writes is always the same layout (the standard library's
`json` indent=2 of the whole document, with `ensure_ascii=False`; written here by
hand, line by line, with `json`'s own string encoder - tests hold the two to the
same bytes, and to pydantic's `model_dump_json(indent=2)`):

    {
      "version": 3,
      "tokens": [
        {                      <- one block per token, separated by
          "id": "...",            "\\n    },\\n    {\\n"
          ...
        },
        {
          ...
        }
      ],
      "sessions": [...],       <- the tail: the browser sessions and pairing
      "pairings": [...]           links (few), read and written whole
    }

A JSON string cannot hold a raw line break, and a token's own lists are
indented further, so that separator occurs between tokens and nowhere else, and
`\\n  "sessions": ` only where the tail begins (found from the end, where it
is): the file splits into one block of bytes per token, and the tail, at C
speed. A block that is
byte-for-byte the same as in the version read before is the same token, already
validated; after a change only the blocks that differ are parsed (and the tail,
when it differs), and a write changes only the blocks of the tokens it changed
(`Loaded`). A file in any other layout (hand-edited, version 1 or 2) is parsed
whole, as always.

Every rule of the whole document still holds after an incremental step: blocks
and the tail are parsed strictly by the same models (schema.py), and the rules
across tokens (unique ids, names and digests) and sessions (unique, each of a
token there) are checked over the whole new lists each time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from core.model.records import (
    STORE_VERSION,
    PairingRecord,
    SessionRecord,
    TokenRecord,
    json_time,
)

HEADER = b'{\n  "version": %d,\n  "tokens": [\n    {\n' % STORE_VERSION
TOKENS_END = b"\n    }\n  ],\n"
"""After the last token's block; the tail follows."""
EMPTY_HEAD = b'{\n  "version": %d,\n  "tokens": [],\n' % STORE_VERSION
TAIL_MARK = b'\n  "sessions": '
EMPTY_TAIL = b'  "sessions": [],\n  "pairings": []\n}\n'
EMPTY = EMPTY_HEAD + EMPTY_TAIL
SEP = b"\n    },\n    {\n"


def serialize(
    records: Iterable[TokenRecord],
    sessions: Sequence[SessionRecord] = (),
    pairings: Sequence[PairingRecord] = (),
) -> bytes:
    """The whole file for `records` (and sessions, pairings), in the canonical
    layout (no re-validation: every record is a checked one already)."""
    return join([block_of(record) for record in records], tail_of(sessions, pairings))


def block_of(record: TokenRecord) -> bytes:
    """One token's block: its object's lines, without the braces, six spaces in.
    The same text as `_members(record.to_json(), "    ")`, field by field without
    the dictionary (a whole file of 100k tokens is written in half the time;
    tests hold it to `json.dumps` and to pydantic, for any text in any field)."""
    string = encode_basestring
    return "".join(
        (
            '      "id": ',
            string(record.id),
            ',\n      "name": ',
            string(record.name),
            ',\n      "permissions": ',
            _strings([p.value for p in record.permissions]),
            ',\n      "created_at": "',
            json_time(record.created_at),
            '",\n      "expires_at": ',
            _time(record.expires_at),
            ',\n      "last_used_at": ',
            _time(record.last_used_at),
            ',\n      "last_used_from": ',
            "null" if record.last_used_from is None else string(record.last_used_from),
            ',\n      "hint": ',
            string(record.hint),
            ',\n      "digest": ',
            string(record.digest),
            ',\n      "legacy": ',
            "true" if record.legacy else "false",
            ',\n      "note": ',
            "null" if record.note is None else string(record.note),
            ',\n      "directories": ',
            _strings(record.directories),
        )
    ).encode("utf-8")


def _time(value: datetime | None) -> str:
    return "null" if value is None else f'"{json_time(value)}"'


def _strings(values: Sequence[str]) -> str:
    """A token's list of strings, as it lies in its block."""
    if not values:
        return "[]"
    return "[\n        " + ",\n        ".join(map(encode_basestring, values)) + "\n      ]"


def tail_of(sessions: Sequence[SessionRecord], pairings: Sequence[PairingRecord]) -> bytes:
    """The tail for these sessions and pairings."""
    if not sessions and not pairings:
        return EMPTY_TAIL
    tail = {
        "sessions": [s.to_json() for s in sessions],
        "pairings": [p.to_json() for p in pairings],
    }
    return (_members(tail, "") + "\n}\n").encode("utf-8")


def _members(obj: dict[str, Any], indent: str) -> str:
    """An object's members as `json.dumps(indent=2, ensure_ascii=False)` lays them
    out at `indent`: one per line, without the braces."""
    inner = indent + "  "
    return ",\n".join(f"{inner}{encode_basestring(k)}: {_value(v, inner)}" for k, v in obj.items())


def _value(value: Any, indent: str) -> str:
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{\n" + _members(value, indent) + "\n" + indent + "}" if value else "{}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = indent + "  "
        items = ",\n".join(inner + _value(item, inner) for item in value)
        return "[\n" + items + "\n" + indent + "]"
    raise TypeError(f"not a value the store file holds: {type(value).__name__}")


def tokens_end(data: bytes) -> int | None:
    """Where the tokens end and the tail begins, in a file in the canonical
    layout; None for any other file."""
    at = data.rfind(TAIL_MARK)
    if at < 0 or not data.endswith(b"\n}\n"):
        return None
    end = at + 1
    if end == len(EMPTY_HEAD) and data.startswith(EMPTY_HEAD):
        return end
    if (
        end >= len(HEADER) + len(TOKENS_END)
        and data.startswith(HEADER)
        and data.startswith(TOKENS_END, end - len(TOKENS_END))
    ):
        return end
    return None


def split(data: bytes) -> tuple[list[bytes], bytes] | None:
    """The token blocks and the tail of a file in the canonical layout, else None."""
    end = tokens_end(data)
    if end is None:
        return None
    if end == len(EMPTY_HEAD) and data.startswith(EMPTY_HEAD):
        return [], data[end:]
    return data[len(HEADER) : end - len(TOKENS_END)].split(SEP), data[end:]


def join(blocks: Sequence[bytes], tail: bytes = EMPTY_TAIL) -> bytes:
    if not blocks:
        return EMPTY_HEAD + tail
    return b"".join((HEADER, SEP.join(blocks), TOKENS_END, tail))
