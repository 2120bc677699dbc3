"""The gateway's usage batches - `last_used_at` of tokens, `last_seen_at` of
browser sessions - written to the store file without a record per token.

The general write path (`TokenStore._mutate`) reads the whole file into
`TokenRecord`s and keeps them to write the next change cheaply: at 100k tokens
about 350 MB held by a gateway that only ever changes a few timestamps. This
path, taken under the same lock, reads the file's bytes, finds the blocks
(format.py) of the tokens in the batch, parses just those with the models,
changes them exactly as `Store.record_usage` does, serializes them with the
same `block_of`, re-serializes the tail (sessions, pairings) with the same
`tail_of` after the same `_settle`, and writes the result with the same
`atomic_write`. Nothing per token is kept afterwards: only the SHA-256 of the
version last checked or written, so that version is not checked again.

The bytes written are the general path's bytes (tests/core/test_core_usage_write.py
compares the two on varied stores). That holds because the general path
re-serializes, besides the changed tokens, only the tokens between them, and
this path accepts a file only when every token's block is what `block_of`
would write for it: the canonical layout, times as this program writes them,
strings escaped as it escapes them (`_CANONICAL`, which with fast_parse.py's
check of every field implies it). Anything else - a hand edit, an older
version, another layout, a field the check does not accept, a duplicate, a
file that cannot be read - is left to the general path, which writes it (or
refuses it) exactly as before.

The authorizer's `EntryReader` of the same file takes the change without
reading the file (`index_reader.Rewritten`: the new blocks' hashes, and which
block each rewritten one was): a timestamp changes no entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.model.errors import StoreError, StoreWriteFailed
from core.model.records import PairingRecord, SessionRecord, check_sessions
from core.model.schema import parse_block, parse_tail
from core.store.changes import Changing, mark_seen
from core.store.file.atomic import atomic_write
from core.store.file.fast_parse import block_entry
from core.store.file.format import (
    HEADER,
    SEP,
    TOKENS_END,
    block_of,
    tail_of,
    tokens_end,
)
from core.store.file.index_reader import Rewritten, publish_rewrite
from core.store.file.reading import Fingerprint, read_file

_STR = rb'"(?:[^"\\\x00-\x1f]++|\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f])))*+"'
"""A JSON string as `json` and pydantic both write it: UTF-8 as it is (the fast
check makes sure it is UTF-8), and only quotes, backslashes and control
characters escaped, each the one way they escape it."""
_TIME = rb'"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"'
"""A time as this program writes it (UTC, whole seconds): pydantic writes such
a time back the same (the fast check makes sure it is a real one)."""
_PERMISSION = rb'"(?:read|write|execute)"'
_ID_LINE = b'      "id": "'
_CANONICAL = re.compile(
    _ID_LINE + rb'[0-9a-z]{8}",\n'
    rb'      "name": ' + _STR + rb",\n"
    rb'      "permissions": \[\n(?:        ' + _PERMISSION + rb",\n)*"
    rb"        " + _PERMISSION + rb"\n      \],\n"
    rb'      "created_at": ' + _TIME + rb",\n"
    rb'      "expires_at": (?:null|' + _TIME + rb"),\n"
    rb'      "last_used_at": (?:null|' + _TIME + rb"),\n"
    rb'      "last_used_from": (?:null|' + _STR + rb"),\n"
    rb'      "hint": ' + _STR + rb",\n"
    rb'      "digest": "sha256:[0-9a-f]{64}",\n'
    rb'      "legacy": (?:true|false),\n'
    rb'      "note": (?:null|' + _STR + rb"),\n"
    rb'      "directories": (?:\[\]|\[\n(?:        ' + _STR + rb",\n)*"
    rb"        " + _STR + rb"\n      \])"
)
"""A token's block exactly as `block_of` writes it: every field, in the model's
order, in the canonical layout."""
_ID_AT = len(_ID_LINE)


@dataclass
class _Found:
    """One version of the file, as this path needs it: its bytes and stat, where
    its tail begins, the blocks of the tokens asked for (index, start, end), the
    hashes of all its blocks in order, and its sessions and pairings."""

    data: bytes
    version: Fingerprint
    read_only: bool
    end: int
    blocks: dict[str, tuple[int, int, int]]
    order: list[int]
    sessions: tuple[SessionRecord, ...]
    pairings: tuple[PairingRecord, ...]


class UsageWrites:
    """The usage writes of one store file (call them under the store's lock).
    Each returns None when the file is not one this path takes: the caller
    then does the change the general way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._checked: bytes | None = None
        """SHA-256 of the version last found valid and canonical (or written)."""

    def record_usage(
        self,
        batch: Mapping[str, tuple[datetime, str | None]],
        now: Callable[[], datetime],
        read_only: Callable[[], StoreError],
    ) -> int | None:
        """`Store.record_usage` for a batch from `usage_batch`: later times win,
        unknown ids are ignored; how many tokens changed."""
        found = self._read(batch)
        if found is None:
            return None
        changed: list[tuple[int, int, int, bytes, bytes]] = []
        for token_id, (start_index, start, stop) in sorted(
            found.blocks.items(), key=lambda item: item[1][0]
        ):
            when, client = batch[token_id]
            old = found.data[start:stop]
            try:
                record = parse_block(old)
            except ValueError:  # not after the check; but then the general path says why
                return None
            if record.last_used_at is None or when > record.last_used_at:
                new = dataclasses.replace(record, last_used_at=when, last_used_from=client)
                changed.append((start_index, start, stop, old, block_of(new)))
        if not changed:
            return 0
        if found.read_only:
            raise read_only()
        sessions, pairings = _settled(list(found.sessions), list(found.pairings), now())
        self._write(found, changed, sessions, pairings)
        return len(changed)

    def record_session_seen(
        self,
        batch: Mapping[str, tuple[datetime, str | None]],
        now: Callable[[], datetime],
        read_only: Callable[[], StoreError],
    ) -> int | None:
        """`Store.record_session_seen` for a batch of (UTC whole-second time,
        client): later times win, a client is kept when given; how many changed."""
        found = self._read(())
        if found is None:
            return None
        sessions = list(found.sessions)
        changed = mark_seen(sessions, batch)
        if not changed:
            return 0
        if found.read_only:
            raise read_only()
        kept, pairings = _settled(sessions, list(found.pairings), now())
        self._write(found, [], kept, pairings)
        return changed

    # --- internals ---------------------------------------------------------------

    def _read(self, wanted: Container[str]) -> _Found | None:
        """The file, if this path takes it (see the module's docstring)."""
        try:
            read = read_file(self.path)
        except StoreError:
            return None  # the general path reads it again and says why
        if read is None:
            return None
        data, st = read
        end = tokens_end(data)
        if end is None or end - len(TOKENS_END) < len(HEADER):  # another layout, or no tokens
            return None
        digest = hashlib.sha256(data).digest()
        check = digest != self._checked
        try:
            tail_sessions, tail_pairings = parse_tail(data[end:])
        except ValueError:  # pydantic's ValidationError is one
            return None
        referred = {s.token_id for s in tail_sessions} | {p.token_id for p in tail_pairings}
        scanned = _scan(data, end, wanted, referred, check)
        if scanned is None:
            return None
        blocks, order, present = scanned
        try:
            sessions, pairings = check_sessions(tail_sessions, tail_pairings, present)
        except ValueError:
            return None
        self._checked = digest
        return _Found(
            data=data,
            version=Fingerprint.of(st),
            read_only=not st.st_mode & stat.S_IWUSR,
            end=end,
            blocks=blocks,
            order=order,
            sessions=sessions,
            pairings=pairings,
        )

    def _write(
        self,
        found: _Found,
        changed: list[tuple[int, int, int, bytes, bytes]],
        sessions: tuple[SessionRecord, ...],
        pairings: tuple[PairingRecord, ...],
    ) -> None:
        """The file with `changed` blocks replaced and the tail for `sessions` and
        `pairings`, written atomically; the file's readers in this process told."""
        view = memoryview(found.data)
        pieces: list[bytes | memoryview] = []
        at = 0
        for _, start, stop, _, block in changed:
            pieces += (view[at:start], block)
            at = stop
        tail = tail_of(sessions, pairings)
        pieces += (view[at : found.end], tail)
        new = b"".join(pieces)
        del pieces, view
        found.data = b""  # the old file's bytes go now: not two copies while it is written
        started = time.time_ns()
        version = _write_atomically(self.path, new)
        self._checked = hashlib.sha256(new).digest()
        order, renamed = found.order, {}
        if changed:
            order = list(order)
            for index, _, _, _, block in changed:
                renamed[hash(block)] = order[index]
                order[index] = hash(block)
        publish_rewrite(
            self.path,
            Rewritten(found.version, version, started, order, renamed, tail, sessions),
        )


def _write_atomically(path: Path, data: bytes) -> Fingerprint:
    """`data` as the file (`atomic_write`), and the version written: as
    `TokenStore._write` writes, with its error."""
    try:
        atomic_write(path, data)
        st = os.stat(path)  # still under the lock: our file
    except OSError as exc:
        raise StoreWriteFailed(
            path, f"could not write: {exc.strerror or exc}; the previous file is unchanged"
        ) from None
    return Fingerprint.of(st)


def _settled(
    sessions: list[SessionRecord], pairings: list[PairingRecord], now: datetime
) -> tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]]:
    """What `Store._settle` leaves of them: expired sessions and pairings dropped."""
    state = Changing([], sessions, pairings)
    state.drop_expired(now)
    return tuple(state.sessions), tuple(state.pairings)


def _scan(
    data: bytes, end: int, wanted: Container[str], referred: Container[str], check: bool
) -> tuple[dict[str, tuple[int, int, int]], list[int], set[str]] | None:
    """One pass over the token blocks of `data` (its tail at `end`): where the
    blocks of the `wanted` ids are (index, start, end), the hash of every block
    (as the authorizer's reader hashes them), and which `referred` ids are
    there. With `check`, every block must be canonical (`_CANONICAL`) and
    pass fast_parse.py's check of each field, and ids, names and digests must
    be unique (as `parse_store` requires), else None."""
    stop = end - len(TOKENS_END)
    at, index = len(HEADER), 0
    blocks: dict[str, tuple[int, int, int]] = {}
    order: list[int] = []
    present: set[str] = set()
    ids: set[str] = set()
    names: set[int] = set()
    digests: set[bytes] = set()
    times: dict[str, datetime | None] = {}
    while True:
        sep = data.find(SEP, at, stop)
        block_end = stop if sep < 0 else sep
        block = data[at:block_end]
        order.append(hash(block))
        if check:
            if _CANONICAL.fullmatch(block) is None:
                return None
            entry = block_entry(block, times)
            if entry is None:
                return None
            ids.add(entry.id)
            names.add(entry.name_key)
            digests.add(entry.digest)
            if not len(ids) == len(names) == len(digests) == index + 1:
                return None
        token_id = data[at + _ID_AT : at + _ID_AT + 8].decode("ascii")
        if token_id in wanted:
            blocks[token_id] = (index, at, block_end)
        if token_id in referred:
            present.add(token_id)
        if sep < 0:
            return blocks, order, present
        at, index = sep + len(SEP), index + 1
