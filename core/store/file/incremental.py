"""Reading a changed store file again cheaply: only the token blocks that differ
from the version held are parsed (`Loaded.after`), and a write re-serialises only
the blocks of the tokens it changed (`Loaded.bytes_for`)."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.model.records import (
    PairingRecord,
    SessionRecord,
    TokenRecord,
    check_records,
    check_sessions,
)
from core.store.file.format import (
    EMPTY_HEAD,
    EMPTY_TAIL,
    HEADER,
    SEP,
    TOKENS_END,
    block_of,
    join,
    serialize,
    split,
    tail_of,
    tokens_end,
)


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
        # Another writer's blocks are validated by the models; imported here, not
        # above, so that a process that only ever reads and writes its own never
        # imports pydantic.
        from core.model.schema import parse_block, parse_tail

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
                sessions, pairings = parse_tail(tail)
            except ValueError:  # pydantic's ValidationError is one
                return None
            exact = False
        found = _changed_blocks(self.blocks, old, self.starts(), data, old_end, new_end)
        if found is None:
            return None
        start, end_old, middle, _low = found
        blocks = [*self.blocks[:start], *middle, *self.blocks[end_old:]]
        starts = _starts_after(self.starts(), found, new_end - old_end)
        try:
            added = [parse_block(block) for block in middle]
        except ValueError:
            return None
        removed = self.records[start:end_old]
        records = [*self.records[:start], *added, *self.records[end_old:]]
        keys = _keys_after(self.keys(), removed, added)
        if keys is None:
            return None
        try:
            checked = check_records(added, fresh=added, unique=False)
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
