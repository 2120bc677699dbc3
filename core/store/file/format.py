"""The store file's canonical layout, and reading it again cheaply after a change.

What this program writes is always the same layout (the standard library's
`json` indent=2 of the whole document; pydantic's, which is the same bytes and
faster, while a self-check says it still is):

    {
      "version": 2,
      "tokens": [
        {                      <- one block per token, separated by
          "id": "...",            "\\n    },\\n    {\\n"
          ...
        },
        {
          ...
        }
      ]
    }

A JSON string cannot hold a raw line break, and a token's own lists are
indented further, so that separator occurs between tokens and nowhere else: the
file splits into one block of bytes per token at C speed. A block that is
byte-for-byte the same as in the version read before is the same token, already
validated; after a change only the blocks that differ are parsed, and a write
changes only the blocks of the tokens it changed (`Loaded`). A file in any other
layout (hand-edited, version 1) is parsed whole, as always.

Every rule of the whole document still holds after an incremental step: blocks
are parsed strictly by the same model, and the rules across tokens (unique ids,
names and digests) are checked over the whole new list each time.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from core.model.records import STORE_VERSION, StoreDocument, TokenRecord, check_records

HEADER = b'{\n  "version": %d,\n  "tokens": [\n    {\n' % STORE_VERSION
FOOTER = b"\n    }\n  ]\n}\n"
EMPTY = b'{\n  "version": %d,\n  "tokens": []\n}\n' % STORE_VERSION
SEP = b"\n    },\n    {\n"


def serialize(records: Iterable[TokenRecord]) -> bytes:
    """The whole file for `records`, in the canonical layout (no re-validation:
    every record is a validated TokenRecord already)."""
    if _pydantic_writes_the_layout():
        doc = StoreDocument.model_construct(version=STORE_VERSION, tokens=tuple(records))
        return doc.model_dump_json(indent=2).encode("utf-8") + b"\n"
    return join([_block_by_json(record) for record in records])


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
    doc = StoreDocument.model_construct(version=STORE_VERSION, tokens=(sample, sample))
    fast = doc.model_dump_json(indent=2).encode("utf-8") + b"\n"
    return fast == join([_block_by_json(sample)] * 2)


_SAMPLE = {
    "id": "abcd1234",
    "name": 'n\u00e9 \u2603 \u0001 "q" \\',
    "permissions": ["read", "execute"],
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": None,
    "last_used_at": "2026-01-02T03:04:05Z",
    "hint": "ocat_ab...cdef",
    "digest": "sha256:" + "0" * 64,
    "note": None,
    "directories": ["/srv/a", "/srv/b"],
}
"""A record with what a layout could differ on: non-ASCII, control characters,
quotes, nulls, an empty-looking and a multi-item list."""


def split(data: bytes) -> list[bytes] | None:
    """The token blocks of a file in the canonical layout, else None."""
    if data == EMPTY:
        return []
    if not (data.startswith(HEADER) and data.endswith(FOOTER)):
        return None
    return data[len(HEADER) : len(data) - len(FOOTER)].split(SEP)


def join(blocks: Sequence[bytes]) -> bytes:
    if not blocks:
        return EMPTY
    return HEADER + SEP.join(blocks) + FOOTER


def block_of(record: TokenRecord) -> bytes:
    if not _pydantic_writes_the_layout():
        return _block_by_json(record)
    data = serialize((record,))
    return data[len(HEADER) : len(data) - len(FOOTER)]


def parse_block(block: bytes) -> TokenRecord:
    return TokenRecord.model_validate_json(b"{\n" + block + b"\n}", strict=True)


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
    """The records of one version of the file, with their blocks when the file was
    in the canonical layout (None: parse whole next time, write whole), and the
    sets the rules across tokens are checked against."""

    records: list[TokenRecord]
    blocks: list[bytes] | None
    _keys: tuple[set[str], set[str], set[str]] | None = field(default=None, repr=False)
    data: bytes | None = field(default=None, repr=False)
    """The file itself (with `blocks`), to find what the next version changed."""
    _starts: list[int] | None = field(default=None, repr=False)

    def file(self) -> bytes | None:
        """The file's bytes (kept when read, rebuilt from the blocks otherwise)."""
        if self.data is None and self.blocks is not None:
            self.data = join(self.blocks)
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

    def bytes_for(self, records: list[TokenRecord]) -> tuple[bytes, list[bytes] | None]:
        """The file for `records` - this version's records with a few added,
        replaced or removed: the blocks of unchanged ones reused, the others
        serialized - and its blocks."""
        if self.blocks is None:
            data = serialize(records)
            return data, split(data)
        start, end_old, end_new = changed_span(self.records, records)
        middle = [block_of(r) for r in records[start:end_new]]
        blocks = [*self.blocks[:start], *middle, *self.blocks[end_old:]]
        return join(blocks), blocks

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
            return Loaded(self.records, self.blocks, self._keys, data, self._starts), [], []
        found = _changed_blocks(self.blocks, old, self.starts(), data)
        if found is None:
            return None
        start, end_old, middle, _low = found
        blocks = [*self.blocks[:start], *middle, *self.blocks[end_old:]]
        starts = _starts_after(self.starts(), found, len(data) - len(old))
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
        except ValueError:
            return None
        if checked is not added:  # permissions put in order: write the file whole next time
            fixed = {id(a): c for a, c in zip(added, checked, strict=True)}
            records = [fixed.get(id(r), r) for r in records]
            return Loaded(records, None), removed, list(checked)
        return Loaded(records, blocks, keys, data=data, _starts=starts), removed, added


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


def _common_suffix(a: bytes, b: bytes, n: int) -> int:
    """How many trailing bytes `a` and `b` share, up to `n`."""
    view = memoryview(a)
    la, lb = len(a), len(b)
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
    blocks: Sequence[bytes], old: bytes, starts: Sequence[int], data: bytes
) -> tuple[int, int, list[bytes], int] | None:
    """Where `data` differs from `old` (the file made of `blocks`, which begin at
    `starts`): (blocks kept at the start, index in `blocks` where the kept end
    begins, the new blocks between, where in `data` they begin), or None when
    `data` is not in the canonical layout or the change cannot be placed between
    whole blocks.

    The bytes both files share at the start and at the end are found with C
    comparisons (a 10,000-token file in well under a millisecond); only what lies
    between is split into blocks, and only that is parsed."""
    if data == old:
        return len(blocks), len(blocks), [], 0
    if data == EMPTY:
        return 0, len(blocks), [], 0
    if not (data.startswith(HEADER) and data.endswith(FOOTER)) or old == EMPTY:
        return None
    sep, n, la, lb = len(SEP), len(blocks), len(old), len(data)
    shortest = min(la, lb)
    head = _common_prefix(old, data, shortest)
    tail = _common_suffix(old, data, shortest - head)
    # blocks wholly in the shared head, each with the separator after it
    kept = bisect.bisect_right(starts, head) - 1
    last = starts[kept] + len(blocks[kept])
    if data.startswith(blocks[kept], starts[kept]) and data.startswith(SEP, last):
        kept += 1  # the last old block, now followed by new ones
    # blocks wholly in the shared tail, each with the separator before it
    resume = max(bisect.bisect_left(starts, la - tail + sep), kept, 1)
    low = starts[kept] if kept < n else starts[-1] + len(blocks[-1]) + sep
    high = (starts[resume] - sep if resume < n else la - len(FOOTER)) + (lb - la)
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
