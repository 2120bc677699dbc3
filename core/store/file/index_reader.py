"""The store file as an authorizer reads it (`EntryReader`): token entries, not
records, and no copy of the file's bytes.

`StoreReader` keeps every record of the version it read, and the file's bytes
and blocks, to re-read and to write only what changed: at 100k tokens that is
about 400 MB, and a server only decides. This reader keeps, per token, its
entry (core.store.entries) and the hash of its block of the file (format.py),
in the file's order; when the file changes, it splits the new bytes into
blocks and hashes them (at C speed), skips the run of hashes both versions
share at the start and at the end, and parses only the blocks in between whose
hash it does not hold - fast_parse.py's check, with the whole file parsed by
the models whenever that does not accept them. A block's hash is Python's keyed
SipHash of its bytes (random per process): two different blocks are taken for
the same only by a 64-bit collision. At 100k tokens this holds about 65 MB
where the records, blocks and bytes took about 450 MB; a re-read costs about
1.4x the records' (the whole file is split and hashed, not compared with the
bytes of the last version, which are not kept).

When the file changed because this process wrote it (the gateway's own
`last_used_at` batches), the store's records of that write are used instead of
reading it back (`_Latest`, shared with the store); so are its usage writes
made without records (usage_write.py), by which blocks they rewrote
(`Rewritten`). Versions, the racy-version rule and failures are
`StoreReader`'s: an unreadable or corrupt file raises its StoreError, and the
version held is dropped (never fall back to an older, possibly revoked, one).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.model.records import SessionRecord
from core.store.entries import Entries, TokenEntry, entry_of
from core.store.file.fast_parse import (
    block_entries,
    block_entry,
    parse_entries,
    tail_bytes_records,
)
from core.store.file.format import EMPTY_HEAD, HEADER, SEP, TOKENS_END, tokens_end
from core.store.file.reading import (
    _COARSE_TICK_NS,
    _SECOND_NS,
    FileSnapshot,
    Fingerprint,
    _key,
    _Latest,
    read_file,
)

Key = tuple[int, int, int, int, int]


class _Held:
    """What the reader knows of the version it holds, to read the next one by
    its changes: each token's entry by its block's hash (None: the file was not
    in the canonical layout), the blocks' hashes in the file's order, the ids,
    name hashes and digests (the rules across tokens), and the file's tail as it
    was."""

    __slots__ = ("blocks", "digests", "ids", "names", "order", "tail")

    def __init__(
        self,
        entries: Sequence[TokenEntry],
        blocks: dict[int, TokenEntry] | None,
        order: list[int] | None = None,
    ) -> None:
        self.blocks = blocks
        self.order = order or []
        self.ids = {e.id for e in entries}
        self.names = {e.name_key for e in entries}
        self.digests = {e.digest for e in entries}
        self.tail: bytes | None = None


def _common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading items `a` and `b` share: galloping, then halving, with C
    comparisons of slices."""
    n = min(len(a), len(b))
    lo, step = 0, 64
    while True:
        hi = min(n, lo + step)
        if a[lo:hi] != b[lo:hi]:
            break
        if hi == n:
            return n
        lo, step = hi, step * 2
    while hi - lo > 1:  # [0, lo) is shared, [0, hi) is not
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _diff(held: _Held, hashes: list[int]) -> tuple[dict[int, TokenEntry], list[int]] | None:
    """What the blocks whose hashes are `hashes` (in the new file's order) change
    in the version held: (the entries gone, by hash; where the new blocks are in
    `hashes`). Only the stretch between the shared head and tail is looked at
    item by item. None when a block appears twice (the whole parse says why)."""
    table, old = held.blocks, held.order
    assert table is not None
    head = _common_prefix(old, hashes)
    room = min(len(old), len(hashes)) - head
    tail = _common_prefix(old[len(old) - room :][::-1], hashes[len(hashes) - room :][::-1])
    old_middle = set(old[head : len(old) - tail])
    new_middle = hashes[head : len(hashes) - tail]
    if len(set(new_middle)) != len(new_middle):
        return None
    kept = set(new_middle)
    gone = {h: table[h] for h in old_middle if h not in kept}
    fresh = []
    for at in range(head, len(hashes) - tail):
        h = hashes[at]
        if h in old_middle:
            continue  # the same block, moved within the stretch
        if h in table:
            return None  # the same block as one kept before or after: two equal tokens
        fresh.append(at)
    return gone, fresh


def _blocks_of(data: bytes, end: int) -> list[bytes]:
    """The token blocks of a file in the canonical layout (its tail at `end`):
    the whole file split, then the header and the tail cut off its first and last
    block (the tail's own separators, between sessions, counted off) - no copy of
    the tokens' part of the file first."""
    if end == len(EMPTY_HEAD) and data.startswith(EMPTY_HEAD):
        return []
    parts = data.split(SEP)
    in_tail = data.count(SEP, end)
    if in_tail:
        del parts[len(parts) - in_tail :]
    tokens_stop = end - len(TOKENS_END)
    part_stop = len(data) if not in_tail else data.find(SEP, end)
    last = parts[-1]
    parts[-1] = last[: len(last) - (part_stop - tokens_stop)]
    parts[0] = parts[0][len(HEADER) :]
    return parts


class EntryReader:
    """One store file, for an authorizer (`core.store.RecordSource`): read again
    only when it changes, and then only the tokens that changed."""

    def __init__(
        self, path: Path, *, racy_window: float = 0.05, latest: _Latest | None = None
    ) -> None:
        self.path = path
        self._fspath = os.fspath(path)
        self._racy_ns = int(racy_window * 1e9)
        self._latest = _Latest() if latest is None else latest
        self._current: Entries | None = None
        self._current_key: Key | None = None
        self._recheck_at: int | None = None
        self._held: _Held | None = None
        self._taken: FileSnapshot | None = None
        """The store's own write last taken (not taken twice)."""
        self._lock = threading.Lock()

    def stat_key(self) -> Key | None:
        """As `StoreReader.stat_key` (one stat per decision)."""
        try:
            st = os.stat(self._fspath)
        except FileNotFoundError:
            return None
        except OSError:
            return (-1, -1, -1, -1, -1)
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def is_current(self, key: Key | None) -> bool:
        if self._current is None or self._current_key != key:
            return False
        return self._recheck_at is None or time.time_ns() < self._recheck_at

    @property
    def current(self) -> Entries | None:
        return self._current

    def forget(self) -> None:
        """Drop the version held: the next read parses the whole file."""
        with self._lock:
            self._current = self._held = None

    def reload(self) -> Entries:
        """The file's current version (raises its StoreError; nothing is kept then)."""
        with self._lock:  # one read at a time: each builds on the version held
            key = self.stat_key()
            given = _handed.pop(self._fspath, None) if self._current is None else None
            if given is not None and given._current is not None and given.is_current(key):
                self._take_over(given)
                return given._current
            try:
                found = self._read(key)
            except BaseException:
                self._current = self._held = None
                raise
            self._hold(found)
            return found

    def _take_over(self, given: EntryReader) -> None:
        """Hold what `given` holds (a read `hand_over` made)."""
        self._current, self._current_key = given._current, given._current_key
        self._recheck_at, self._held = given._recheck_at, given._held

    def _read(self, key: Key | None) -> Entries:
        rewrites = _rewrites.get(self._fspath, ())
        # A version held already is asked for again only when it was racy: then
        # the file itself is read (a write in the same tick keeps the stat key),
        # never the same rewrite taken again - its time would keep it racy.
        if rewrites and _fp_key(rewrites[-1].version) == key != self._current_key:
            taken = self._take_rewrites(rewrites)
            if taken is not None:
                return taken
        latest = self._latest.snapshot
        if (
            latest is not None
            and latest is not self._taken
            and _key(latest) == key
            and latest.loaded is not None
            and latest.loaded.blocks is not None
        ):
            self._taken = latest
            return self._take(latest)
        return self._read_file(None if self._current is None else self._current.version)

    def _read_file(self, based_on: Hashable) -> Entries:
        started = time.time_ns()  # before reading: the bytes are at least this old
        found = read_file(self.path)
        if found is None:
            self._held = None  # the next file is parsed whole
            return Entries(None, [], None, based_on, (), started)
        data, st = found
        version = Fingerprint.of(st)
        step = self._changed(data)
        if step is not None:
            removed, added, sessions = step
            return Entries(version, None, (removed, added), based_on, sessions, started)
        entries, sessions, blocks, tail, order = self._whole(data)
        self._held = _Held(entries, blocks, order)
        self._held.tail = tail
        return Entries(version, entries, None, based_on, sessions, started)

    def _whole(
        self, data: bytes
    ) -> tuple[
        list[TokenEntry],
        tuple[SessionRecord, ...],
        dict[int, TokenEntry] | None,
        bytes | None,
        list[int],
    ]:
        """The whole file: (entries, sessions, entries by their block's hash -
        None when the file is not in the canonical layout -, its tail). Block by
        block when the fast check accepts every block, else `parse_entries`."""
        end = tokens_end(data)
        if end is None:
            entries, sessions, _ = parse_entries(self.path, data)
            return entries, sessions, None, None, []
        blocks = _blocks_of(data, end)
        hashes = list(map(hash, blocks))
        found = block_entries(blocks)
        del blocks  # the file's size again, in small pieces: let it go first
        tail = data[end:]
        kept = None
        if found is not None:
            kept = tail_bytes_records(tail, {e.id for e in found})
        if found is None or kept is None:
            found, sessions, _ = parse_entries(self.path, data)
        else:
            sessions = kept[0]
        table = dict(zip(hashes, found, strict=False))
        if len(hashes) != len(found) or len(table) != len(found):
            return found, sessions, None, None, []
        return found, sessions, table, tail, hashes

    def _take(self, latest: FileSnapshot) -> Entries:
        """The store's own write, from its records (no read, no parse)."""
        assert latest.loaded is not None and latest.loaded.blocks is not None
        based_on = None if self._current is None else self._current.version
        held = self._held
        hashes = list(map(hash, latest.loaded.blocks))
        records = latest.loaded.records
        if held is None or held.blocks is None or len(hashes) != len(records):
            entries = [entry_of(r) for r in records]
            blocks = dict(zip(hashes, entries, strict=True))
            unique = len(blocks) == len(entries)
            self._held = _Held(entries, blocks if unique else None, hashes)
            self._held.tail = latest.loaded.tail
            return Entries(
                latest.version, entries, None, based_on, latest.sessions, latest.read_at_ns
            )
        found = _diff(held, hashes)
        if found is None:  # not for records the store wrote; but then read the file
            self._held = None
            return self._read_file(based_on)
        gone, fresh_at = found
        fresh = {hashes[at]: entry_of(records[at]) for at in fresh_at}
        self._commit(held, gone, fresh)
        held.order = hashes
        held.tail = latest.loaded.tail
        return Entries(
            latest.version,
            None,
            (list(gone.values()), list(fresh.values())),
            based_on,
            latest.sessions,
            latest.read_at_ns,
        )

    def _take_rewrites(self, rewrites: Sequence[Rewritten]) -> Entries | None:
        """This process's usage writes (usage_write.py), without reading the
        file: the last one's blocks, in order, next to the version held, where
        every block that differs is one those writes rewrote from a block held -
        the same token, the same entry (a timestamp is not in it) - and the last
        tail's sessions. None (read the file) for any other difference."""
        held, current = self._held, self._current
        last = rewrites[-1]
        if held is None or held.blocks is None or current is None or last.order is None:
            return None
        renamed: dict[int, int] = {}
        for rewrite in rewrites:
            renamed.update(rewrite.renamed)
        found = _diff(held, last.order)
        if found is None:
            return None
        gone, fresh_at = found
        moved: dict[int, int] = {}
        for at in fresh_at:
            new = origin = last.order[at]
            for _ in rewrites:  # back through the writes, to the block held
                origin = renamed.get(origin, origin)
                if origin in gone:
                    break
            if origin not in gone or origin in moved:
                return None
            moved[origin] = new
        if len(moved) != len(gone):  # a token gone: not a usage write
            return None
        table = held.blocks
        for origin, new in moved.items():
            table[new] = table.pop(origin)
        held.order = last.order  # shared, never changed in place
        held.tail = last.tail
        return Entries(
            last.version, None, ([], []), current.version, last.sessions, last.written_at
        )

    def _changed(
        self, data: bytes
    ) -> tuple[list[TokenEntry], list[TokenEntry], tuple[SessionRecord, ...]] | None:
        """(entries gone, entries added, sessions) of `data` next to the version
        held, parsing only the blocks that changed; None: parse the whole file."""
        held = self._held
        if held is None or held.blocks is None or self._current is None:
            return None
        end = tokens_end(data)
        if end is None:
            return None
        blocks = _blocks_of(data, end)
        hashes = list(map(hash, blocks))
        found = _diff(held, hashes)
        if found is None:
            return None
        gone, fresh_at = found
        times: dict[str, datetime | None] = {}
        fresh: dict[int, TokenEntry] = {}
        for at in fresh_at:
            entry = block_entry(blocks[at], times)
            if entry is None:
                return None
            fresh[hashes[at]] = entry
        if not self._unique(held, list(gone.values()), list(fresh.values())):
            return None
        tail = data[end:]
        sessions = self._current.sessions
        if tail != held.tail or gone:
            ids = (held.ids - {e.id for e in gone.values()}) | {e.id for e in fresh.values()}
            if tail != held.tail:
                kept = tail_bytes_records(tail, ids)
                if kept is None:
                    return None
                sessions = kept[0]
            elif any(s.token_id not in ids for s in sessions):  # a token gone: its sessions too
                sessions = tuple(s for s in sessions if s.token_id in ids)
        self._commit(held, gone, fresh)
        held.tail = tail
        held.order = hashes
        return list(gone.values()), list(fresh.values()), sessions

    @staticmethod
    def _unique(held: _Held, gone: Sequence[TokenEntry], added: Sequence[TokenEntry]) -> bool:
        """No added entry shares an id, a name or a digest with one that stays or
        with another added one."""
        for kept, values, leaving in (
            (held.ids, [e.id for e in added], {e.id for e in gone}),
            (held.names, [e.name_key for e in added], {e.name_key for e in gone}),
            (held.digests, [e.digest for e in added], {e.digest for e in gone}),
        ):
            if len(set(values)) != len(values):
                return False
            if any(v in kept and v not in leaving for v in values):
                return False
        return True

    @staticmethod
    def _commit(held: _Held, gone: dict[int, TokenEntry], fresh: dict[int, TokenEntry]) -> None:
        """`held` without `gone`, with `fresh` (each by its block's hash)."""
        assert held.blocks is not None
        blocks = held.blocks
        for h, entry in gone.items():
            del blocks[h]
            held.ids.discard(entry.id)
            held.names.discard(entry.name_key)
            held.digests.discard(entry.digest)
        for h, entry in fresh.items():
            blocks[h] = entry
            held.ids.add(entry.id)
            held.names.add(entry.name_key)
            held.digests.add(entry.digest)

    def _hold(self, found: Entries) -> None:
        """As `StoreReader.adopt`: hold `found`, and when it was read within its
        racy window, read it once more when the window has passed."""
        self._current = found
        fp = found.version
        self._current_key = None
        if isinstance(fp, Fingerprint):
            self._current_key = (fp.inode, fp.device, fp.size, fp.mtime_ns, fp.ctime_ns)
        self._recheck_at = None
        if isinstance(fp, Fingerprint):
            window = self._racy_ns
            if fp.mtime_ns % _SECOND_NS == 0 and fp.ctime_ns % _SECOND_NS == 0:
                window = max(window, _COARSE_TICK_NS)
            if abs(found.read_at_ns - fp.mtime_ns) < window:
                self._recheck_at = fp.mtime_ns + window


@dataclass(frozen=True, slots=True)
class Rewritten:
    """A write that changed only timestamps (usage_write.py): the version it was
    based on and the version written, when it began (the racy rule), the hashes
    of the new file's blocks in order (the last write's only), each new block's
    hash to its old one's, and the new tail with its sessions."""

    based_on: Fingerprint
    version: Fingerprint
    written_at: int
    order: list[int] | None
    renamed: dict[int, int]
    tail: bytes
    sessions: tuple[SessionRecord, ...]


_rewrites: dict[str, tuple[Rewritten, ...]] = {}
"""The last usage writes of each file made in this process, each based on the
one before (a few: a flush writes tokens, then sessions)."""
_MAX_REWRITES = 4


def publish_rewrite(path: Path, rewrite: Rewritten) -> None:
    """Tell this process's readers of `path` about a usage write."""
    fspath = os.fspath(path)
    before = _rewrites.get(fspath, ())
    if before and before[-1].version != rewrite.based_on:
        before = ()  # another write came between: a reader of older versions reads
    older = tuple(dataclasses.replace(r, order=None) for r in before[-(_MAX_REWRITES - 1) :])
    _rewrites[fspath] = (*older, rewrite)


def _fp_key(fp: Fingerprint) -> Key:
    return (fp.inode, fp.device, fp.size, fp.mtime_ns, fp.ctime_ns)


_handed: dict[str, EntryReader] = {}
"""Reads made by `hand_over`, each waiting for the first reader of its file."""


def hand_over(path: Path) -> Entries:
    """The file read and validated whole, for a server's check before it starts;
    the first `EntryReader` of this file in this process then takes this read
    instead of reading the file again (if it has not changed meanwhile): at 100k
    tokens, one read at start, not two."""
    reader = EntryReader(path)
    found = reader.reload()
    _handed[reader._fspath] = reader
    return found
