"""The store file's tokens as entries (core.store.entries), parsed without a
pydantic model per token: the standard library's JSON parser once, then a
hand-written check of every field.

pydantic validating 100,000 records takes about 2 s and keeps about 3 KB a
token; this takes a fraction of that and keeps only the entries. The check
accepts a subset of what `parse_store` accepts - the file as this program writes
it: version 3, times as `2026-01-02T03:04:05(.ffffff)(Z|+hh:mm)`, permissions in
their canonical order - and enforces the same rules on it (the field types, the
patterns and lengths, unique ids, names and digests, directories in canonical
form, sessions and pairings through their own models). Anything else - an
older version, another time format, a bad field, a duplicate - is handed to
`parse_store`, which accepts it exactly when it would have before, or raises
its precise StoreError. So the fast path can only ever be slower to say yes,
never say yes to something the models refuse (tests/core/test_core_fast_parse.py
compares the two on valid and broken files).
"""

from __future__ import annotations

import gc
import json
import json.scanner
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.model.directories import BadDirectory, normalize_directory
from core.model.names import MAX_NOTE_LEN
from core.model.permissions import EVERY_SET
from core.model.records import (
    MAX_CLIENT_LEN,
    STORE_VERSION,
    PairingRecord,
    SessionRecord,
    check_sessions,
)
from core.model.schema import parse_tail
from core.store.entries import TokenEntry, directory_tuple, entry_of, permission_set
from core.store.file.reading import parse_store

_ID = re.compile(r"[0-9a-z]{8}", re.ASCII)  # ID_PATTERN, matched whole
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A \\ud800-\\udfff escape: the two JSON parsers may treat a lone one differently."""
_REQUIRED = frozenset(("id", "name", "permissions", "created_at", "expires_at", "hint", "digest"))
_FIELDS = _REQUIRED | {"last_used_at", "last_used_from", "legacy", "note", "directories"}
_TOP = frozenset(("version", "tokens", "sessions", "pairings"))
_CANONICAL = {
    names: permission_set(names) for names in (tuple(p.value for p in perms) for perms in EVERY_SET)
}
_MAX_HINT = 64
_NONE: list[str] = []

Parsed = tuple[list[TokenEntry], tuple[SessionRecord, ...], tuple[PairingRecord, ...]]


def parse_entries(path: Path, data: bytes) -> Parsed:
    """The file's token entries, sessions and pairings, validated as strictly as
    `parse_store` validates them (a StoreError says what is wrong)."""
    fast = fast_entries(data)
    if fast is not None:
        return fast
    doc = parse_store(path, data)  # the exact models: accepts or says why not
    return [entry_of(r) for r in doc.tokens], doc.sessions, doc.pairings


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector off while a parse allocates a million objects that
    are all kept (it would walk them again and again: 3x the parse's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _json(data: bytes) -> Any:
    """The bytes as JSON, or None where the models' parser could differ: not
    UTF-8, a byte order mark, a surrogate escape, invalid JSON."""
    try:
        text = data.decode("utf-8")  # a BOM stays a character, which json refuses
    except UnicodeDecodeError:
        return None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return None
    try:
        with _no_gc():
            return json.loads(text)
    except (ValueError, RecursionError):
        return None


def fast_entries(data: bytes) -> Parsed | None:
    """The file's entries, sessions and pairings if it passes the fast check,
    else None (`parse_store` decides)."""
    obj = _json(data)
    if type(obj) is not dict or obj.keys() - _TOP:
        return None
    version = obj.get("version")
    if type(version) is not int or version != STORE_VERSION:
        return None
    tokens, sessions, pairings = (obj.get(k, []) for k in ("tokens", "sessions", "pairings"))
    if type(tokens) is not list or type(sessions) is not list or type(pairings) is not list:
        return None
    times: dict[str, datetime | None] = {}
    with _no_gc():
        entries = [token_entry(token, times) for token in tokens]
    if None in entries:
        return None
    checked: list[TokenEntry] = entries  # type: ignore[assignment]  # no None, just checked
    ids = {e.id for e in checked}
    names = {token["name"] for token in tokens}
    digests = {e.digest for e in checked}
    if not len(ids) == len(names) == len(digests) == len(checked):
        return None
    tail = tail_records(sessions, pairings, ids)
    if tail is None:
        return None
    return checked, tail[0], tail[1]


def tail_records(
    sessions: list[Any], pairings: list[Any], ids: set[str] | frozenset[str]
) -> tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]] | None:
    """Sessions and pairings (few) through their own models, strictly, and their
    rules (`check_sessions`); None where those refuse them."""
    if not sessions and not pairings:
        return (), ()
    text = json.dumps({"sessions": sessions, "pairings": pairings}, ensure_ascii=False)
    try:
        return check_sessions(*parse_tail(text.encode("utf-8")[1:]), ids)
    except ValueError:  # pydantic's ValidationError is one
        return None


def block_entries(blocks: Sequence[bytes]) -> list[TokenEntry] | None:
    """The entries of a file's token blocks (format.py), each parsed on its own -
    so the garbage of one is the room of the next, and what is kept lies close
    together (a whole-file parse leaves ~150 MB of holes at 100k tokens); None
    where the fast check does not accept one, or two share an id, a name or a
    digest."""
    times: dict[str, datetime | None] = {}
    out = []
    with _no_gc():
        for block in blocks:
            entry = block_entry(block, times)
            if entry is None:
                return None
            out.append(entry)
    for values in ({e.id for e in out}, {e.name_key for e in out}, {e.digest for e in out}):
        if len(values) != len(out):
            return None
    return out


def tail_bytes_records(
    tail: bytes, ids: set[str] | frozenset[str]
) -> tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]] | None:
    """The sessions and pairings of a file's tail (format.py), strictly, and
    their rules; None where those refuse them."""
    try:
        return check_sessions(*parse_tail(tail), ids)
    except ValueError:  # pydantic's ValidationError is one
        return None


_SCAN: Any = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
"""`json.loads` without its Python wrappers (a block is one object: `{` to `}`)."""


def block_entry(block: bytes, times: dict[str, datetime | None]) -> TokenEntry | None:
    """One token's block of the file (format.py) as an entry; None where the fast
    check does not accept it."""
    try:
        text = "{\n" + block.decode("utf-8") + "\n}"
    except UnicodeDecodeError:
        return None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return None
    try:
        obj, end = _SCAN(text, 0)
    except (ValueError, StopIteration, RecursionError):
        return None
    if end != len(text):  # more after the object: not one token's block
        return None
    return token_entry(obj, times)


def _time(value: object, times: dict[str, datetime | None]) -> datetime | None:
    """The aware time `value` names in this program's format, in UTC; None for
    anything else (`times` remembers each string's answer within one parse)."""
    if type(value) is not str:
        return None
    if value in times:
        return times[value]
    found = None
    if _TIME.fullmatch(value):
        try:
            found = datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            found = None
    if len(times) < 65536:
        times[value] = found
    return found


def _text(value: object, low: int, high: int) -> bool:
    return type(value) is str and low <= len(value) <= high


def token_entry(t: Any, times: dict[str, datetime | None]) -> TokenEntry | None:
    """One token's JSON object as an entry, if every field is as TokenRecord
    requires (in the subset described above); None otherwise."""
    if type(t) is not dict:
        return None
    keys = t.keys()
    if not (_REQUIRED <= keys <= _FIELDS):
        return None
    token_id, name, digest, hint = t["id"], t["name"], t["digest"], t["hint"]
    if (
        type(token_id) is not str
        or type(name) is not str
        or type(digest) is not str
        or type(hint) is not str
        or not name
        or not 0 < len(hint) <= _MAX_HINT
        or _ID.fullmatch(token_id) is None
        or _DIGEST.fullmatch(digest) is None
    ):
        return None
    permissions = t["permissions"]
    try:
        granted = _CANONICAL.get(tuple(permissions)) if type(permissions) is list else None
    except TypeError:  # a list or object among them (unhashable)
        return None
    if granted is None or _time(t["created_at"], times) is None:
        return None
    expires_at = t["expires_at"]
    expires = None if expires_at is None else _time(expires_at, times)
    if expires_at is not None and expires is None:
        return None
    get = t.get
    used, used_from, note = get("last_used_at"), get("last_used_from"), get("note")
    if used is not None and _time(used, times) is None:
        return None
    if used_from is not None and not _text(used_from, 0, MAX_CLIENT_LEN):
        return None
    if note is not None and not _text(note, 1, MAX_NOTE_LEN):
        return None
    legacy = get("legacy", False)
    if type(legacy) is not bool:
        return None
    directories = get("directories", _NONE)
    if type(directories) is not list:
        return None
    if directories and not _canonical_directories(directories):
        return None
    return TokenEntry(
        sys.intern(token_id),
        bytes.fromhex(digest[7:]),
        granted,
        expires,
        legacy,
        directory_tuple(directories) if directories else (),
        hash(name),
    )


def _canonical_directories(value: object) -> bool:
    """A list of distinct directories, each in canonical form (`check_records`)."""
    if type(value) is not list:
        return False
    for directory in value:
        if type(directory) is not str:
            return False
        try:
            if normalize_directory(directory) != directory:
                return False
        except BadDirectory:
            return False
    return len(set(value)) == len(value)
