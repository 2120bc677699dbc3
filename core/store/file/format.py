"""The store file's canonical layout, and reading it again cheaply after a change.

What this program writes is always the same layout (the standard library's
`json` indent=2 of the whole document; pydantic's, which is the same bytes and
faster, while a self-check says it still is):

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
and the tail are parsed strictly by the same models, and the rules across tokens
(unique ids, names and digests) and sessions (unique, each of a token there) are
checked over the whole new lists each time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from core.model.records import (
    STORE_VERSION,
    PairingRecord,
    SessionRecord,
    StoreDocument,
    TokenRecord,
)

HEADER = b'{\n  "version": %d,\n  "tokens": [\n    {\n' % STORE_VERSION
TOKENS_END = b"\n    }\n  ],\n"
"""After the last token's block; the tail follows."""
EMPTY_HEAD = b'{\n  "version": %d,\n  "tokens": [],\n' % STORE_VERSION
TAIL_MARK = b'\n  "sessions": '
EMPTY_TAIL = b'  "sessions": [],\n  "pairings": []\n}\n'
EMPTY = EMPTY_HEAD + EMPTY_TAIL
SEP = b"\n    },\n    {\n"


class Tail(BaseModel):
    """The file's tail: the sessions and pairings (the same fields as StoreDocument)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # as records.py

    sessions: tuple[SessionRecord, ...] = ()
    pairings: tuple[PairingRecord, ...] = ()


def serialize(
    records: Iterable[TokenRecord],
    sessions: Sequence[SessionRecord] = (),
    pairings: Sequence[PairingRecord] = (),
) -> bytes:
    """The whole file for `records` (and sessions, pairings), in the canonical
    layout (no re-validation: every record is a validated one already)."""
    if _pydantic_writes_the_layout():
        doc = StoreDocument.model_construct(
            version=STORE_VERSION,
            tokens=tuple(records),
            sessions=tuple(sessions),
            pairings=tuple(pairings),
        )
        return doc.model_dump_json(indent=2).encode("utf-8") + b"\n"
    return join([_block_by_json(record) for record in records], _tail_by_json(sessions, pairings))


def tail_of(sessions: Sequence[SessionRecord], pairings: Sequence[PairingRecord]) -> bytes:
    """The tail for these sessions and pairings."""
    if not sessions and not pairings:
        return EMPTY_TAIL
    if not _pydantic_writes_the_layout():
        return _tail_by_json(sessions, pairings)
    tail = Tail.model_construct(sessions=tuple(sessions), pairings=tuple(pairings))
    return tail.model_dump_json(indent=2).encode("utf-8")[2:] + b"\n"


def parse_tail(tail: bytes) -> Tail:
    """The tail's records, strictly (ValidationError if they are not valid)."""
    return Tail.model_validate_json(b"{\n" + tail, strict=True)


def _tail_by_json(sessions: Sequence[SessionRecord], pairings: Sequence[PairingRecord]) -> bytes:
    text = json.dumps(
        {
            "sessions": [s.model_dump(mode="json") for s in sessions],
            "pairings": [p.model_dump(mode="json") for p in pairings],
        },
        indent=2,
        ensure_ascii=False,
    )
    return text.encode("utf-8")[2:] + b"\n"


def _block_by_json(record: TokenRecord) -> bytes:
    """One token's block, laid out by the standard library's `json` (whose
    indent=2 layout is documented): its object's lines, without the braces, six
    spaces in."""
    text = json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return "\n".join("    " + line for line in text.split("\n")[1:-1]).encode("utf-8")


@functools.cache
def _pydantic_writes_the_layout() -> bool:
    """Whether pydantic's indent=2 (Rust: 5x faster than `json` at 100k tokens)
    writes exactly the canonical layout. It always has; if a pydantic release
    ever lays JSON out differently, files are written by `json` instead, and the
    blocks stay what `split` expects."""
    sample = TokenRecord.model_validate(_SAMPLE)
    session = SessionRecord.model_validate(_SAMPLE_SESSION)
    pairing = PairingRecord.model_validate(_SAMPLE_PAIRING)
    doc = StoreDocument.model_construct(
        version=STORE_VERSION,
        tokens=(sample, sample),
        sessions=(session, session),
        pairings=(pairing,),
    )
    fast = doc.model_dump_json(indent=2).encode("utf-8") + b"\n"
    tail = Tail.model_construct(sessions=(session,), pairings=())
    return fast == join(
        [_block_by_json(sample)] * 2, _tail_by_json((session, session), (pairing,))
    ) and tail.model_dump_json(indent=2).encode("utf-8")[2:] + b"\n" == _tail_by_json(
        (session,), ()
    )


_SAMPLE = {
    "id": "abcd1234",
    "name": 'n\u00e9 \u2603 \u0001 "q" \\',
    "permissions": ["read", "execute"],
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": None,
    "last_used_at": "2026-01-02T03:04:05Z",
    "last_used_from": "2001:db8::1",
    "hint": "ocat_ab...cdef",
    "digest": "sha256:" + "0" * 64,
    "note": None,
    "directories": ["/srv/a", "/srv/b"],
}
_SAMPLE_SESSION = {
    "id": "abcd1234",
    "digest": "sha256:" + "1" * 64,
    "token_id": "abcd1234",
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-01-31T00:00:00Z",
    "last_seen_at": None,
    "client": "192.0.2.1",
    "user_agent": 'Mozilla/5.0 (X11) \u00e9 \u0001 "q" \\',
    "via": "login",
}
_SAMPLE_PAIRING = {
    "digest": "sha256:" + "2" * 64,
    "token_id": "abcd1234",
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-01-01T00:05:00Z",
}
"""Records with what a layout could differ on: non-ASCII, control characters,
quotes, nulls, an empty-looking and a multi-item list."""


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


def block_of(record: TokenRecord) -> bytes:
    if not _pydantic_writes_the_layout():
        return _block_by_json(record)
    data = serialize((record,))
    return data[len(HEADER) : len(data) - len(TOKENS_END) - len(EMPTY_TAIL)]


def parse_block(block: bytes) -> TokenRecord:
    return TokenRecord.model_validate_json(b"{\n" + block + b"\n}", strict=True)
