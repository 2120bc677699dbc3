"""The store file's records without pydantic: for the CLI's reads (`token list`,
`show`, the read before a write), which then import no pydantic at all
(importing it, and building the models' validators, costs more than reading
10,000 tokens here).

Only a file in the exact layout this program writes is taken (format.py: the
header, one block per token, the tail): each block must match `_BLOCK`, and the
tail - the browser sessions and pairing links - `_TAIL`, which spell out that
layout field by field - every field present, in the models' order, each value
in the one form the store's serializer gives it (times in UTC with `Z`, whole
seconds or six digits of fraction; permissions in their canonical order; strings
without a single escape). Within that form the patterns enforce the models'
rules (the id and digest patterns, the lengths, `via`), and the code the rest
(real dates, directories in canonical form and distinct, unique ids, names and
digests, and the sessions' rules, `check_sessions`). The values are then exactly
what validation gives: a JSON string with no escape is its own text, `true` is
True, and a time is built from the same digits, in UTC.

Anything else - a name with a quote, another layout, version 1 or 2, a field
broken - is not judged here at all: `fast_load` gives None and the caller
validates with the models (core/model/schema.py), which accept it or say
precisely what is wrong. So this path can only decline, never accept what the
models refuse, nor give a different record; tests/core/test_core_fast_records.py
checks that against the models field by field (and `agrees_with_models` on a
sample of every kind of value).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

from core.model.directories import BadDirectory, normalize_directory
from core.model.permissions import EVERY_SET, Permission
from core.model.records import PairingRecord, SessionRecord, TokenRecord, check_sessions
from core.store.file.format import EMPTY_TAIL

_CHAR = r'[^"\\\x00-\x1f]'
"""A character a JSON string holds as itself (no escape needed, none used)."""
_TIME = r'"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?)Z"'
_PERMISSIONS: dict[str, tuple[Permission, ...]] = {
    ",\n".join(f'        "{p.value}"' for p in perms): perms for perms in EVERY_SET
}
_BLOCK = re.compile(
    rf'      "id": "([0-9a-z]{{8}})",\n'
    rf'      "name": "({_CHAR}+)",\n'
    rf'      "permissions": \[\n((?:        "[a-z]+",\n)*        "[a-z]+")\n      \],\n'
    rf"      \"created_at\": {_TIME},\n"
    rf"      \"expires_at\": (?:{_TIME}|null),\n"
    rf"      \"last_used_at\": (?:{_TIME}|null),\n"
    rf'      "last_used_from": (?:"({_CHAR}{{0,64}})"|null),\n'
    rf'      "hint": "({_CHAR}{{1,64}})",\n'
    rf'      "digest": "(sha256:[0-9a-f]{{64}})",\n'
    rf"      \"legacy\": (true|false),\n"
    rf'      "note": (?:"({_CHAR}{{1,200}})"|null),\n'
    rf'      "directories": (?:\[\]|\[\n((?:        "{_CHAR}*",\n)*        "{_CHAR}*")\n      \])',
    re.ASCII,
)
"""One token's block as the store's serializer writes it (format.py), with the
limits of `TokenRecord` (MAX_CLIENT_LEN 64, hint 1-64, MAX_NOTE_LEN 200: a test
holds these to the model's)."""
_FIELDS = tuple(f.name for f in dataclasses.fields(TokenRecord))
"""Every field of a record, in the file's order: the block names each (a test holds
`_BLOCK` to this order)."""
_DIRECTORY_SEP = '",\n        "'
_new = object.__new__
_set = object.__setattr__

_SESSION = (
    r"    \{\n"
    r'      "id": "([0-9a-z]{8})",\n'
    r'      "digest": "(sha256:[0-9a-f]{64})",\n'
    r'      "token_id": "([0-9a-z]{8})",\n'
    rf"      \"created_at\": {_TIME},\n"
    rf"      \"expires_at\": {_TIME},\n"
    rf"      \"last_seen_at\": (?:{_TIME}|null),\n"
    rf'      "client": (?:"({_CHAR}{{0,64}})"|null),\n'
    rf'      "user_agent": (?:"({_CHAR}{{0,200}})"|null),\n'
    r'      "via": "(login|pairing)"\n'
    r"    \}"
)
_PAIRING = (
    r"    \{\n"
    r'      "digest": "(sha256:[0-9a-f]{64})",\n'
    r'      "token_id": "([0-9a-z]{8})",\n'
    rf"      \"created_at\": {_TIME},\n"
    rf"      \"expires_at\": {_TIME}\n"
    r"    \}"
)
_TAIL = re.compile(
    rf'  "sessions": (?:\[\]|\[\n(?P<sessions>(?:{_SESSION},\n)*{_SESSION})\n  \]),\n'
    rf'  "pairings": (?:\[\]|\[\n(?P<pairings>(?:{_PAIRING},\n)*{_PAIRING})\n  \])\n'
    r"\}\n"
)
_ONE_SESSION = re.compile(_SESSION)
_ONE_PAIRING = re.compile(_PAIRING)
"""The tail as the store's serializer writes it, with the limits of `SessionRecord`
and `PairingRecord` (MAX_CLIENT_LEN 64, MAX_USER_AGENT_LEN 200, `via` one of VIAS: a
test holds these to the models'). A session or pairing must then name real times."""

Tail = tuple[tuple[SessionRecord, ...], tuple[PairingRecord, ...]]


def fast_load(blocks: list[bytes], tail: bytes) -> tuple[list[TokenRecord], Tail] | None:
    """The records of a file in the canonical layout (format.py `split`: its
    blocks and tail), and its sessions and pairings - exactly what `parse_store`
    would give - or None where this path does not judge the file."""
    records = _records(blocks)
    if records is None:
        return None
    ids = {r.id for r in records}
    names, digests = {r.name for r in records}, {r.digest for r in records}
    if not len(ids) == len(names) == len(digests) == len(records):
        return None  # two tokens share an id, a name or a digest: the models say which
    if tail == EMPTY_TAIL:  # what the models make of it
        return records, ((), ())
    found = _tail(tail)
    if found is None:
        return None
    try:
        return records, check_sessions(*found, ids)
    except ValueError:  # two share an id or a digest: the models say which
        return None


def _records(blocks: list[bytes]) -> list[TokenRecord] | None:
    times: dict[str, datetime] = {}
    out = []
    for block in blocks:
        record = _record(block, times)
        if record is None:
            return None
        out.append(record)
    return out


def _record(block: bytes, times: dict[str, datetime]) -> TokenRecord | None:
    """One block as the record the models make of it, or None where `_BLOCK`
    does not take it or a value breaks a rule the pattern cannot say."""
    try:
        match = _BLOCK.fullmatch(block.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if match is None:
        return None
    (
        token_id,
        name,
        permissions,
        created,
        expires,
        used,
        used_from,
        hint,
        digest,
        legacy,
        note,
        directories,
    ) = match.groups()
    granted = _PERMISSIONS.get(permissions)
    if granted is None:  # not one of the seven lists in canonical order
        return None
    get = times.get
    created_at = get(created) or _time(created, times)
    expires_at = None if expires is None else (get(expires) or _time(expires, times))
    used_at = None if used is None else (get(used) or _time(used, times))
    if created_at is None or (expires and expires_at is None) or (used and used_at is None):
        return None
    listed: tuple[str, ...] = ()
    if directories is not None:
        listed = tuple(directories[9:-1].split(_DIRECTORY_SEP))
        if not _canonical(listed):
            return None
    # What `TokenRecord(...)` makes, at a fraction of the cost of its frozen
    # __init__ (one setattr per field): the instance's dict, set whole.
    record: TokenRecord = _new(TokenRecord)
    _set(
        record,
        "__dict__",
        {
            "id": token_id,
            "name": name,
            "permissions": granted,
            "created_at": created_at,
            "expires_at": expires_at,
            "last_used_at": used_at,
            "last_used_from": used_from,
            "hint": hint,
            "digest": digest,
            "legacy": legacy == "true",
            "note": note,
            "directories": listed,
        },
    )
    return record


def _tail(tail: bytes) -> Tail | None:
    """The sessions and pairings of a tail in the layout this program writes, as
    the models make them (before the rules across records), or None where `_TAIL`
    does not take it or a time is not a real one."""
    try:
        match = _TAIL.fullmatch(tail.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if match is None:
        return None
    listed_sessions, listed_pairings = match.group("sessions"), match.group("pairings")
    times: dict[str, datetime] = {}
    sessions = []
    for one in _ONE_SESSION.finditer(listed_sessions or ""):
        token_id, digest, of_token, created, expires, seen, client, agent, via = one.groups()
        created_at, expires_at = _time(created, times), _time(expires, times)
        seen_at = None if seen is None else _time(seen, times)
        if created_at is None or expires_at is None or (seen and seen_at is None):
            return None
        sessions.append(
            SessionRecord(
                id=token_id,
                digest=digest,
                token_id=of_token,
                created_at=created_at,
                expires_at=expires_at,
                last_seen_at=seen_at,
                client=client,
                user_agent=agent,
                via="login" if via == "login" else "pairing",
            )
        )
    pairings = []
    for one in _ONE_PAIRING.finditer(listed_pairings or ""):
        digest, of_token, created, expires = one.groups()
        created_at, expires_at = _time(created, times), _time(expires, times)
        if created_at is None or expires_at is None:
            return None
        pairings.append(
            PairingRecord(
                digest=digest, token_id=of_token, created_at=created_at, expires_at=expires_at
            )
        )
    return tuple(sessions), tuple(pairings)


def _time(text: str, times: dict[str, datetime]) -> datetime | None:
    """The aware UTC time of `text` (the digits before the `Z`), None if it names
    no real time; `times` remembers each text's time within one read."""
    try:
        found = datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None
    if len(times) < 65536:
        times[text] = found
    return found


def _canonical(directories: tuple[str, ...]) -> bool:
    """Each in canonical form, none twice (the models' `check_records`)."""
    for directory in directories:
        try:
            if normalize_directory(directory) != directory:
                return False
        except BadDirectory:
            return False
    return len(set(directories)) == len(directories)


_SAMPLE = (
    b'      "id": "abcd1234",\n'
    b'      "name": "caf\xc3\xa9 \xe2\x98\x83 \x7f \xc2\x85",\n'
    b'      "permissions": [\n        "read",\n        "execute"\n      ],\n'
    b'      "created_at": "2024-02-29T23:59:59.000001Z",\n'
    b'      "expires_at": "9999-12-31T23:59:59.999999Z",\n'
    b'      "last_used_at": "0001-01-01T00:00:00Z",\n'
    b'      "last_used_from": "",\n'
    b'      "hint": "ocat_\xe2\x80\xa6abcd",\n'
    b'      "digest": "sha256:' + b"0123456789abcdef" * 4 + b'",\n'
    b'      "legacy": true,\n'
    b'      "note": "a note",\n'
    b'      "directories": [\n        "/",\n        "/srv/a b"\n      ]'
)


def agrees_with_models() -> bool:
    """Whether this path and the models make the same record of a sample that
    uses every kind of value (the tests ask)."""
    from core.model.schema import parse_block

    fast = _record(_SAMPLE, {})
    return fast is not None and same_record(fast, parse_block(_SAMPLE))


def same_record(a: TokenRecord, b: TokenRecord) -> bool:
    """Equal field by field, in the same order, with the same types (a time with
    the same UTC offset), and nothing else held."""
    if a.__dict__ != b.__dict__ or list(a.__dict__) != list(b.__dict__):
        return False
    for field, value in a.__dict__.items():
        other = b.__dict__[field]
        if type(value) is not type(other):
            return False
        if isinstance(value, datetime) and value.utcoffset() != other.utcoffset():
            return False
        if isinstance(value, tuple) and [type(v) for v in value] != [type(v) for v in other]:
            return False
    return list(a.__dict__) == list(_FIELDS)
