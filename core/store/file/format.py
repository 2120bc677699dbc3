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

import bisect
import dataclasses
import functools
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError

from core.model.records import (
    STORE_VERSION,
    PairingRecord,
    SessionRecord,
    StoreDocument,
    TokenRecord,
    check_records,
    check_sessions,
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

    model_config = ConfigDict(frozen=True, extra="forbid")

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


def same_items(a: Sequence[object], b: Sequence[object]) -> bool:
    """The same records, by identity (what a change left alone is the same object)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def changed_span(old: Sequence[object], new: Sequence[object]) -> tuple[int, int, int]:
    """(start, end in old, end in new): `new` is `old[:start] + new[start:end_new] +
    old[end_old:]`, with the common head and tail as long as they go (compared with
    `==`; records are compared by identity, blocks by their bytes)."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and (old[start] is new[start] or old[start] == new[start]):
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start:
        a, b = old[end_old - 1], new[end_new - 1]
        if not (a is b or a == b):
            break
        end_old -= 1
        end_new -= 1
    return start, end_old, end_new


@dataclass
class Loaded:
    """The records of one version of the file, with their blocks and tail when the
    file was in the canonical layout (None: parse whole next time, write whole),
    and the sets the rules across tokens are checked against."""

    records: list[TokenRecord]
    blocks: list[bytes] | None
    _keys: tuple[set[str], set[str], set[str]] | None = field(default=None, repr=False)
    data: bytes | None = field(default=None, repr=False)
    """The file itself (with `blocks`), to find what the next version changed."""
    _starts: list[int] | None = field(default=None, repr=False)
    tail: bytes = field(default=EMPTY_TAIL, repr=False)
    """The file's tail, as it is in the file (with `blocks`)."""
    sessions: tuple[SessionRecord, ...] = ()
    pairings: tuple[PairingRecord, ...] = ()
    tail_exact: bool = field(default=False, repr=False)
    """`tail` is what `tail_of` makes of `sessions` and `pairings` (so a write that
    changes neither reuses it)."""

    def file(self) -> bytes | None:
        """The file's bytes (kept when read, rebuilt from the blocks otherwise)."""
        if self.data is None and self.blocks is not None:
            self.data = join(self.blocks, self.tail)
        return self.data

    def starts(self) -> list[int]:
        """Where each block begins in the file, built on first use."""
        if self._starts is None:
            blocks = self.blocks or []
            sep = len(SEP)
            lengths = (len(block) + sep for block in blocks[:-1])
            self._starts = (
                list(itertools.accumulate(lengths, initial=len(HEADER))) if blocks else []
            )
        return self._starts

    def keys(self) -> tuple[set[str], set[str], set[str]]:
        """(ids, names, digests), built on first use."""
        if self._keys is None:
            records = self.records
            self._keys = (
                {r.id for r in records},
                {r.name for r in records},
                {r.digest for r in records},
            )
        return self._keys

    def bytes_for(
        self,
        records: list[TokenRecord],
        sessions: Sequence[SessionRecord],
        pairings: Sequence[PairingRecord],
    ) -> tuple[bytes, Loaded]:
        """The file for `records`, `sessions` and `pairings` - this version's with a
        few added, replaced or removed: the blocks of unchanged tokens reused, the
        others serialized, the tail reused if nothing in it changed - and what it
        holds, as the version it will be once written."""
        same_tail = (
            self.tail_exact
            and same_items(sessions, self.sessions)
            and same_items(pairings, self.pairings)
        )
        tail = self.tail if same_tail else tail_of(sessions, pairings)
        blocks: list[bytes] | None
        if self.blocks is None:
            data = serialize(records, sessions, pairings)
            found = split(data)
            blocks, tail = (None, tail) if found is None else found
        else:
            start, end_old, end_new = changed_span(self.records, records)
            middle = [block_of(r) for r in records[start:end_new]]
            blocks = [*self.blocks[:start], *middle, *self.blocks[end_old:]]
            data = join(blocks, tail)
        return data, Loaded(
            records,
            blocks,
            data=data if blocks is not None else None,
            tail=tail,
            sessions=tuple(sessions),
            pairings=tuple(pairings),
            tail_exact=blocks is not None,
        )

    def after(self, data: bytes) -> tuple[Loaded, list[TokenRecord], list[TokenRecord]] | None:
        """The version in `data`, parsing only the blocks that changed: (the new
        version, records gone, records added). None when it cannot be done block
        by block (other layout, a block that does not parse, a rule across tokens
        broken): then parse the whole file, which reports the precise problem."""
        if self.blocks is None:
            return None
        old = self.file()
        if old is None:
            return None
        if data == old:  # the same file (a racy version read again): nothing to parse
            return dataclasses.replace(self, data=data), [], []
        new_end = tokens_end(data)
        if new_end is None:
            return None
        old_end = len(old) - len(self.tail)
        tail = data[new_end:]
        sessions, pairings, exact = self.sessions, self.pairings, self.tail_exact
        if tail != self.tail:
            try:
                parsed = parse_tail(tail)
            except ValidationError:
                return None
            sessions, pairings, exact = parsed.sessions, parsed.pairings, False
        found = _changed_blocks(self.blocks, old, self.starts(), data, old_end, new_end)
        if found is None:
            return None
        start, end_old, middle, _low = found
        blocks = [*self.blocks[:start], *middle, *self.blocks[end_old:]]
        starts = _starts_after(self.starts(), found, new_end - old_end)
        try:
            added = [parse_block(block) for block in middle]
        except ValidationError:
            return None
        removed = self.records[start:end_old]
        records = [*self.records[:start], *added, *self.records[end_old:]]
        keys = _keys_after(self.keys(), removed, added)
        if keys is None:
            return None
        try:
            checked = check_records(added, STORE_VERSION, fresh=added, unique=False)
            kept = check_sessions(sessions, pairings, keys[0])
        except ValueError:
            return None
        if kept[0] is not sessions or kept[1] is not pairings:  # a token gone: its sessions too
            sessions, pairings = kept
            exact = False
        if checked is not added:  # permissions put in order: write the file whole next time
            fixed = {id(a): c for a, c in zip(added, checked, strict=True)}
            records = [fixed.get(id(r), r) for r in records]
            whole = Loaded(records, None, sessions=sessions, pairings=pairings)
            return whole, removed, list(checked)
        loaded = Loaded(
            records,
            blocks,
            keys,
            data=data,
            _starts=starts,
            tail=tail,
            sessions=sessions,
            pairings=pairings,
            tail_exact=exact,
        )
        return loaded, removed, added


def _starts_after(
    starts: list[int], found: tuple[int, int, list[bytes], int], shift: int
) -> list[int]:
    """Where the blocks begin after `blocks[start:end_old]` became `middle` (which
    begins at `low`) and the file grew by `shift` bytes: the head's offsets as
    they were, the middle's counted on, the tail's moved by `shift`."""
    start, end_old, middle, low = found
    out = starts[:start]
    for block in middle:
        out.append(low)
        low += len(block) + len(SEP)
    out += [offset + shift for offset in starts[end_old:]]
    return out


def _common_prefix(a: bytes, b: bytes, n: int) -> int:
    """How many leading bytes `a` and `b` share, up to `n`: galloping, then halving,
    with C comparisons of memoryview windows (no copy)."""
    view = memoryview(a)
    lo, step = 0, 4096
    while True:
        hi = min(n, lo + step)
        if not b.startswith(view[lo:hi], lo):
            break
        if hi == n:
            return n
        lo, step = hi, step * 2
    while hi - lo > 1:  # [0, lo) is shared, [0, hi) is not
        mid = (lo + hi) // 2
        if b.startswith(view[lo:mid], lo):
            lo = mid
        else:
            hi = mid
    return lo


def _common_suffix(a: bytes, b: bytes, n: int, la: int, lb: int) -> int:
    """How many trailing bytes `a[:la]` and `b[:lb]` share, up to `n`."""
    view = memoryview(a)
    lo, step = 0, 4096
    while True:
        hi = min(n, lo + step)
        if not b.startswith(view[la - hi : la - lo], lb - hi):
            break
        if hi == n:
            return n
        lo, step = hi, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if b.startswith(view[la - mid : la - lo], lb - mid):
            lo = mid
        else:
            hi = mid
    return lo


def _changed_blocks(
    blocks: Sequence[bytes],
    old: bytes,
    starts: Sequence[int],
    data: bytes,
    old_end: int,
    new_end: int,
) -> tuple[int, int, list[bytes], int] | None:
    """Where the tokens of `data` (up to `new_end`, where its tail begins) differ
    from those of `old` (the file made of `blocks`, which begin at `starts`, up to
    `old_end`): (blocks kept at the start, index in `blocks` where the kept end
    begins, the new blocks between, where in `data` they begin), or None when
    `data` is not in the canonical layout or the change cannot be placed between
    whole blocks.

    The bytes both files share at the start and at the end are found with C
    comparisons (a 10,000-token file in well under a millisecond); only what lies
    between is split into blocks, and only that is parsed."""
    if old_end == new_end and data.startswith(memoryview(old)[:old_end]):
        return len(blocks), len(blocks), [], 0  # the tokens did not change
    if new_end == len(EMPTY_HEAD) and data.startswith(EMPTY_HEAD):
        return 0, len(blocks), [], 0
    if not data.startswith(HEADER) or not blocks:
        return None
    sep, n, la, lb = len(SEP), len(blocks), old_end, new_end
    shortest = min(la, lb)
    head = _common_prefix(old, data, shortest)
    tail = _common_suffix(old, data, shortest - head, la, lb)
    # blocks wholly in the shared head, each with the separator after it
    kept = bisect.bisect_right(starts, head) - 1
    last = starts[kept] + len(blocks[kept])
    if data.startswith(blocks[kept], starts[kept]) and data.startswith(SEP, last):
        kept += 1  # the last old block, now followed by new ones
    # blocks wholly in the shared tail, each with the separator before it
    resume = max(bisect.bisect_left(starts, la - tail + sep), kept, 1)
    low = starts[kept] if kept < n else starts[-1] + len(blocks[-1]) + sep
    high = (starts[resume] - sep if resume < n else la - len(TOKENS_END)) + (lb - la)
    if high == low - sep and kept > 0 and resume < n:
        return kept, resume, [], low  # blocks removed, the separator between shared
    if high <= low:
        return None
    return kept, resume, data[low:high].split(SEP), low


def _keys_after(
    keys: tuple[set[str], set[str], set[str]],
    removed: Sequence[TokenRecord],
    added: Sequence[TokenRecord],
) -> tuple[set[str], set[str], set[str]] | None:
    """The (ids, names, digests) sets without `removed`, with `added`; None if an
    added record collides with one that stays (the whole-file parse says which)."""
    new = tuple(set(k) for k in keys) if (removed or added) else keys
    ids, names, digests = new
    for r in removed:
        ids.discard(r.id)
        names.discard(r.name)
        digests.discard(r.digest)
    for r in added:
        if r.id in ids or r.name in names or r.digest in digests:
            return None
        ids.add(r.id)
        names.add(r.name)
        digests.add(r.digest)
    return ids, names, digests
