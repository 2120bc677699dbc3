"""The token store's interface: the operations on tokens, browser sessions and
pairing links (`Store`), the same on every engine, and what they return
(`Snapshot`, `Issued`, ...)."""

from __future__ import annotations

import functools
import hmac
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from core.model.clock import Clock, TokenBytes, system_clock, system_token_bytes, to_utc
from core.model.directories import BadDirectory, normalize_directory
from core.model.errors import (
    DuplicateName,
    InvalidDirectory,
    InvalidPermissions,
    PairingInvalid,
    SessionNotFound,
    TokenExpired,
)
from core.model.expiry import DEFAULT_EXPIRY, lifetime_of, parse_expiry
from core.model.names import require_plain_text, validate_name, validate_note
from core.model.permissions import ALL_PERMISSIONS, Permission, canonical, parse_permissions
from core.model.records import (
    MAX_CLIENT_LEN,
    MAX_USER_AGENT_LEN,
    PAIRING_LIFETIME,
    SESSION_LIFETIME,
    PairingRecord,
    SessionRecord,
    TokenRecord,
    Via,
    client_text,
)
from core.model.text import escape_controls
from core.model.token_format import (
    PAIRING_PREFIX,
    SESSION_PREFIX,
    Secret,
    check_format,
    digest,
    generate,
    new_id,
)
from core.store.capabilities import RecordSource
from core.store.snapshot import (
    Copied,
    Edited,
    Issued,
    IssuedPairing,
    IssuedSession,
    PairingStatus,
    Snapshot,
)

T = TypeVar("T")

Used = datetime | tuple[datetime, str | None]
"""One token's use for `record_usage`: when, and from which client address (a bare
time: the address is not known)."""

_ENDS_SESSIONS = frozenset({"permissions", "directories", "expires_at"})
"""The fields whose change by `edit` ends the token's sessions and pairings: what
a session may do. A new name or note changes nothing it may do."""


@dataclass
class Changing:
    """What a change works on: the store's records as the engine read them under
    its lock, changed in place. An engine stores what differs (by identity) from
    what it read, all or nothing."""

    tokens: list[TokenRecord]
    sessions: list[SessionRecord]
    pairings: list[PairingRecord]

    def end_of(self, token_ids: Collection[str]) -> tuple[SessionRecord, ...]:
        """Remove the sessions and pairings of these tokens; the sessions ended."""
        if not token_ids:
            return ()
        ended = tuple(s for s in self.sessions if s.token_id in token_ids)
        if ended:
            self.sessions[:] = [s for s in self.sessions if s.token_id not in token_ids]
        if any(p.token_id in token_ids for p in self.pairings):
            self.pairings[:] = [p for p in self.pairings if p.token_id not in token_ids]
        return ended

    def drop_expired(self, now: datetime) -> None:
        """Sessions and pairings past their end leave at every change."""
        if any(s.is_expired(now) for s in self.sessions):
            self.sessions[:] = [s for s in self.sessions if not s.is_expired(now)]
        if any(p.is_expired(now) for p in self.pairings):
            self.pairings[:] = [p for p in self.pairings if not p.is_expired(now)]


class Store(ABC):
    """The token operations - create, list, find, edit, delete, rotate, prune,
    record usage - and the browser sessions and pairing links of tokens, the same
    on every engine: the JSON file (`TokenStore`) or a database. Each change is a
    function over the records (`Changing`), applied by the engine's `_mutate`
    atomically (the file: under its lock, re-read first).

    A token's sessions and pairings end with it: `delete`, `rotate`, `prune`, and
    an `edit` of its permissions, directories or expiry remove them in the same
    change (a new name or note does not). Expired sessions and pairings are
    dropped by every change that changes something.

    `clock` and `token_bytes` are injected so tests and snapshots are deterministic.
    Methods that change the store return what they did; they raise `InputError`s
    for bad input before touching anything, `TokenNotFound` for unknown
    references and `StoreError`s for problems with the store itself.
    """

    location: str
    """Where the tokens are, for messages: the file's path, or the database's
    URL with its password masked."""

    def __init__(
        self, *, clock: Clock = system_clock, token_bytes: TokenBytes = system_token_bytes
    ) -> None:
        self.clock = clock
        self.token_bytes = token_bytes
        self.last_written: Snapshot[Hashable] | None = None
        """What the last change wrote (based on which version, and what changed)."""

    def now(self) -> datetime:
        return to_utc(self.clock()).replace(microsecond=0)

    # --- what an engine provides ----------------------------------------------------

    @abstractmethod
    def load(self) -> Snapshot[Hashable]:
        """Every record, as of now (an unchanged store is not read again)."""

    @abstractmethod
    def _mutate(self, change: Callable[[Changing], T]) -> T:
        """Apply `change` to the current records atomically: either all of what it
        did is stored, or nothing (and nothing is written when it changed nothing).
        An engine calls `_settle` on what changed before storing it."""

    @abstractmethod
    def version(self) -> Hashable:
        """A cheap marker of the store's current version (no read of the records):
        watchers (the TUI) compare it to notice changes made elsewhere."""

    @abstractmethod
    def new_reader(self) -> RecordSource:
        """A reader of this store for an authorizer (its own cache)."""

    def close(self) -> None:  # noqa: B027 - an engine without connections has nothing to do
        """Let go of connections (the file engine holds none)."""

    def _settle(self, state: Changing) -> None:
        """What every change that changed something also does: drop the sessions
        and pairings that have expired."""
        state.drop_expired(self.now())

    # --- reading ------------------------------------------------------------------

    def tokens(self) -> tuple[TokenRecord, ...]:
        return self.load().records

    def get(self, ref: str) -> TokenRecord:
        return self.load().require(ref)

    # --- changing -----------------------------------------------------------------

    def create(
        self,
        *,
        name: str | None = None,
        permissions: str | Iterable[Permission] | None = None,
        expires: str = DEFAULT_EXPIRY,
        note: str | None = None,
        directories: Iterable[str] = (),
        name_stem: str = "token",
    ) -> Issued:
        """A new token. Defaults: a generated name (`token-N`, or `<name_stem>-N`),
        all permissions, 90 days, no note, every directory the server serves."""
        clean_name = None if name is None else validate_name(name)
        perms = _permissions(permissions)
        clean_note = None if note is None else validate_note(note)
        dirs = clean_directories(directories)
        now = self.now()
        expires_at = parse_expiry(expires, now)
        secret = generate(self.token_bytes)

        def change(state: Changing) -> TokenRecord:
            records = state.tokens
            if clean_name is not None:
                _check_name_free(clean_name, records)
            # An id must not equal a name either: lookups try ids first, so
            # the named token would become unreachable by its name.
            taken = {r.id for r in records} | {r.name.casefold() for r in records}
            record = TokenRecord(
                id=self._new_id(taken),
                name=clean_name or generated_name({r.name for r in records}, name_stem),
                permissions=perms,
                created_at=now,
                expires_at=expires_at,
                last_used_at=None,
                hint=secret.hint,
                digest=digest(secret.reveal()),
                note=clean_note,
                directories=dirs,
            )
            records.append(record)
            return record

        return Issued(self._mutate(change), secret)

    def edit(
        self,
        ref: str,
        *,
        name: str | None = None,
        note: str | None = None,
        permissions: str | Iterable[Permission] | None = None,
        directories: Iterable[str] | None = None,
        expires: str | None = None,
    ) -> Edited:
        """Change a token's name, note, permissions, directories or expiry; its
        secret, id and creation time stay. `None` leaves a field as it is; an
        empty note removes the note and empty directories mean every directory.
        A new expiry counts from now. New permissions, directories or expiry end
        the token's browser sessions and pairing links (`Edited.ended`)."""
        clean_name = None if name is None else validate_name(name)
        clean_note = None if note is None else validate_note(note)
        perms = None if permissions is None else _permissions(permissions)
        dirs = None if directories is None else clean_directories(directories)
        now = self.now()
        expires_at = None if expires is None else parse_expiry(expires, now)

        def change(state: Changing) -> Edited:
            records = state.tokens
            old = self._snapshot_of(records).require(ref)
            update: dict[str, object] = {}
            if clean_name is not None and clean_name != old.name:
                _check_name_free(clean_name, [r for r in records if r.id != old.id])
                update["name"] = clean_name
            if note is not None and clean_note != old.note:
                update["note"] = clean_note
            if perms is not None and perms != old.permissions:
                update["permissions"] = perms
            if dirs is not None and dirs != old.directories:
                update["directories"] = dirs
            if expires is not None and expires_at != old.expires_at:
                update["expires_at"] = expires_at
            if not update:
                return Edited(old, old, ())
            new = old.model_copy(update=update)
            records[records.index(old)] = new
            ended = state.end_of({old.id}) if _ENDS_SESSIONS.intersection(update) else ()
            return Edited(old, new, tuple(update), ended)

        return self._mutate(change)

    def delete(self, refs: Sequence[str]) -> tuple[TokenRecord, ...]:
        """Delete every token named by id or name, with its sessions and pairing
        links; all or nothing."""
        if isinstance(refs, str):  # a str is a Sequence[str] too: "ab" is not ["a", "b"]
            raise TypeError("delete() takes a list of ids or names, not a single string")

        def change(state: Changing) -> tuple[TokenRecord, ...]:
            records = state.tokens
            snapshot = self._snapshot_of(records)
            doomed = {r.id: r for r in (snapshot.require(ref) for ref in refs)}
            records[:] = [r for r in records if r.id not in doomed]
            state.end_of(doomed)
            return tuple(doomed.values())

        return self._mutate(change)

    def rotate(
        self, ref: str, *, expires: str | None = None, directories: Iterable[str] | None = None
    ) -> Issued:
        """A new secret for an existing token: same id, name and permissions.

        The old secret stops working at once, and so do the browser sessions
        and pairing links made with it. Expiry defaults to the token's original
        lifetime (or never), counted from now; directories stay unless given.
        """
        now = self.now()
        if expires is not None:
            parse_expiry(expires, now)  # refuse bad input before taking the lock
        dirs = None if directories is None else clean_directories(directories)
        secret = generate(self.token_bytes)

        def change(state: Changing) -> TokenRecord:
            records = state.tokens
            old = self._snapshot_of(records).require(ref)
            spec = expires if expires is not None else lifetime_of(old.created_at, old.expires_at)
            new = old.model_copy(
                update={
                    "created_at": now,
                    "expires_at": parse_expiry(spec, now),
                    "last_used_at": None,
                    "last_used_from": None,
                    "hint": secret.hint,
                    "digest": digest(secret.reveal()),
                    "legacy": False,
                    **({} if dirs is None else {"directories": dirs}),
                }
            )
            records[records.index(old)] = new
            state.end_of({old.id})
            return new

        return Issued(self._mutate(change), secret)

    def prune(self, only: Collection[str] | None = None) -> tuple[TokenRecord, ...]:
        """Delete expired tokens (limited to the ids in `only`, if given)."""
        now = self.now()

        def change(state: Changing) -> tuple[TokenRecord, ...]:
            records = state.tokens
            gone = tuple(r for r in records if r.is_expired(now) and (only is None or r.id in only))
            ids = {r.id for r in gone}
            if ids:
                records[:] = [r for r in records if r.id not in ids]
                state.end_of(ids)
            return gone

        return self._mutate(change)

    def record_usage(self, used: Mapping[str, Used]) -> int:
        """Set `last_used_at` and `last_used_from` for the given ids (later times
        win; a bare time: from an unknown address); returns how many changed.

        Ids no longer in the store (deleted meanwhile) are ignored.
        """
        batch = usage_batch(used)

        def change(state: Changing) -> int:
            records = state.tokens
            changed = 0
            for i, record in enumerate(records):
                got = batch.get(record.id)
                if got is None:
                    continue
                when, client = got
                if record.last_used_at is None or when > record.last_used_at:
                    records[i] = record.model_copy(
                        update={"last_used_at": when, "last_used_from": client}
                    )
                    changed += 1
            return changed

        return self._mutate(change)

    def copy_in(self, incoming: Iterable[TokenRecord]) -> Copied:
        """Add another store's records as they are (same ids, secrets' digests and
        times), all in one change: `migrate --to` and `export --to`.

        Idempotent: a record already here with the same id and digest is skipped
        (`present`); one that clashes - its id with another secret, its secret
        under another id, its name (ignoring case) or id taken - is not copied and
        is reported with why (`conflicts`)."""
        wanted = list(incoming)

        def change(state: Changing) -> Copied:
            records = state.tokens
            by_id = {r.id: r for r in records}
            by_digest = {r.digest: r for r in records}
            by_name = {r.name.casefold(): r for r in records}
            copied: list[TokenRecord] = []
            present: list[TokenRecord] = []
            conflicts: list[tuple[TokenRecord, str]] = []
            for record in wanted:
                same_id = by_id.get(record.id)
                if same_id is not None:
                    if same_id.digest == record.digest:
                        present.append(record)
                    else:
                        conflicts.append((record, f"id {record.id} is there with another secret"))
                    continue
                clash = by_digest.get(record.digest)
                if clash is not None:
                    conflicts.append((record, f"its secret is there as token {clash.id}"))
                    continue
                clash = by_name.get(record.name.casefold()) or by_name.get(record.id)
                if clash is not None:
                    conflicts.append(
                        (record, f"the name is taken by token {clash.id}")
                        if clash.name.casefold() == record.name.casefold()
                        else (record, f"its id is the name of token {clash.id}")
                    )
                    continue
                if record.name in by_id:
                    conflicts.append((record, f"its name is the id of token {record.name}"))
                    continue
                records.append(record)
                by_id[record.id] = by_digest[record.digest] = record
                by_name[record.name.casefold()] = record
                copied.append(record)
            return Copied(tuple(copied), tuple(present), tuple(conflicts))

        return self._mutate(change)

    # --- browser sessions ------------------------------------------------------------

    def sessions(self) -> tuple[SessionRecord, ...]:
        """Every browser session (expired ones until the next change drops them)."""
        return self.load().sessions

    def create_session(
        self,
        token_ref: str,
        *,
        client: str | None,
        user_agent: str | None,
        via: Via = "login",
    ) -> IssuedSession:
        """Sign a browser in as the token (by id or name): a new session, ending at
        the token's expiry or after SESSION_LIFETIME, whichever comes first.
        TokenNotFound / TokenExpired for a token that cannot be used."""
        now = self.now()
        secret = generate(self.token_bytes, SESSION_PREFIX)

        def change(state: Changing) -> SessionRecord:
            token = self._snapshot_of(state.tokens).require(token_ref)
            if token.is_expired(now):
                raise TokenExpired(token.name)
            return self._add_session(state, token, now, secret, client, user_agent, via)

        return IssuedSession(self._mutate(change), secret)

    def end_sessions(self, session_ids: Sequence[str]) -> tuple[SessionRecord, ...]:
        """End the sessions with these ids; all or nothing (SessionNotFound)."""
        if isinstance(session_ids, str):
            raise TypeError("end_sessions() takes a list of session ids, not a single string")

        def change(state: Changing) -> tuple[SessionRecord, ...]:
            by_id = {s.id: s for s in state.sessions}
            ended: dict[str, SessionRecord] = {}
            for ref in session_ids:
                found = by_id.get(ref.strip())
                if found is None:
                    raise SessionNotFound(ref)
                ended[found.id] = found
            state.sessions[:] = [s for s in state.sessions if s.id not in ended]
            return tuple(ended.values())

        return self._mutate(change)

    def end_sessions_of(self, token_ref: str) -> tuple[SessionRecord, ...]:
        """End every session of a token (by id or name), and its pairing links not
        used yet (`token logout`); the token itself stays."""

        def change(state: Changing) -> tuple[SessionRecord, ...]:
            token = self._snapshot_of(state.tokens).require(token_ref)
            return state.end_of({token.id})

        return self._mutate(change)

    def record_session_seen(self, seen: Mapping[str, tuple[datetime, str | None]]) -> int:
        """Set `last_seen_at` (later times win) and the client address (when given)
        of the given sessions, in one change - in batches, as `record_usage` does;
        ids no longer in the store are ignored. Returns how many changed."""
        batch = {
            session_id: (to_utc(when).replace(microsecond=0), client_text(client, MAX_CLIENT_LEN))
            for session_id, (when, client) in seen.items()
        }

        def change(state: Changing) -> int:
            changed = 0
            for i, session in enumerate(state.sessions):
                got = batch.get(session.id)
                if got is None:
                    continue
                when, client = got
                if session.last_seen_at is None or when > session.last_seen_at:
                    update: dict[str, object] = {"last_seen_at": when}
                    if client is not None:
                        update["client"] = client
                    state.sessions[i] = session.model_copy(update=update)
                    changed += 1
            return changed

        return self._mutate(change)

    # --- pairing links -----------------------------------------------------------------

    def create_pairing(self, token_ref: str) -> IssuedPairing:
        """A one-time pairing link for a token (by id or name): valid for
        PAIRING_LIFETIME (or until the token expires, if sooner), once."""
        now = self.now()
        code = generate(self.token_bytes, PAIRING_PREFIX)

        def change(state: Changing) -> PairingRecord:
            token = self._snapshot_of(state.tokens).require(token_ref)
            if token.is_expired(now):
                raise TokenExpired(token.name)
            expires_at = now + PAIRING_LIFETIME
            if token.expires_at is not None and token.expires_at < expires_at:
                expires_at = token.expires_at
            record = PairingRecord(
                digest=digest(code.reveal()),
                token_id=token.id,
                created_at=now,
                expires_at=expires_at,
            )
            state.pairings.append(record)
            return record

        return IssuedPairing(self._mutate(change), code)

    def pairing_state(self, code: str) -> PairingStatus:
        """What opening the link with `code` would do, without doing it (a GET of
        the pairing page consumes nothing): `valid` (with the token's name), or
        why not. A code used already is gone, so it reads `unknown`, as does one
        never issued; a deleted token's links end with it, so they read `unknown`
        too (`orphaned`: its token expired first)."""
        if check_format(code, PAIRING_PREFIX) is not None:
            return PairingStatus("unknown")
        snapshot = self.load()
        pairing = _find_pairing(snapshot.pairings, code)
        if pairing is None:
            return PairingStatus("unknown")
        now = self.now()
        if pairing.is_expired(now):
            return PairingStatus("expired", pairing.token_id)
        token = snapshot.by_id(pairing.token_id)
        if token is None or token.is_expired(now):
            return PairingStatus("orphaned", pairing.token_id)
        return PairingStatus("valid", token.id, token.name)

    def consume_pairing(
        self, code: str, *, client: str | None, user_agent: str | None
    ) -> IssuedSession:
        """Use a pairing link: in one change, remove it and sign the browser in
        with a session of its token (`via="pairing"`). PairingInvalid(reason) -
        and nothing changed - when the code is unknown (or used), expired, or
        its token gone. Two browsers pressing at once: exactly one session."""
        if check_format(code, PAIRING_PREFIX) is not None:
            raise PairingInvalid("unknown")
        now = self.now()
        secret = generate(self.token_bytes, SESSION_PREFIX)

        def change(state: Changing) -> SessionRecord:
            pairing = _find_pairing(state.pairings, code)
            if pairing is None:
                raise PairingInvalid("unknown")
            if pairing.is_expired(now):
                raise PairingInvalid("expired")
            token = self._snapshot_of(state.tokens).by_id(pairing.token_id)
            if token is None or token.is_expired(now):
                raise PairingInvalid("orphaned")
            state.pairings.remove(pairing)
            return self._add_session(state, token, now, secret, client, user_agent, "pairing")

        return IssuedSession(self._mutate(change), secret)

    def _add_session(
        self,
        state: Changing,
        token: TokenRecord,
        now: datetime,
        secret: Secret,
        client: str | None,
        user_agent: str | None,
        via: Via,
    ) -> SessionRecord:
        expires_at = now + SESSION_LIFETIME
        if token.expires_at is not None and token.expires_at < expires_at:
            expires_at = token.expires_at
        record = SessionRecord(
            id=self._new_id({s.id for s in state.sessions}),
            digest=digest(secret.reveal()),
            token_id=token.id,
            created_at=now,
            expires_at=expires_at,
            last_seen_at=None,
            client=client_text(client, MAX_CLIENT_LEN),
            user_agent=client_text(user_agent, MAX_USER_AGENT_LEN),
            via=via,
        )
        state.sessions.append(record)
        return record

    def _new_id(self, taken: Collection[str]) -> str:
        for _ in range(1000):
            candidate = new_id(self.token_bytes)
            if candidate not in taken:
                return candidate
        raise RuntimeError("token_bytes keeps returning the same bytes")

    def _snapshot_of(self, records: list[TokenRecord]) -> Snapshot[None]:
        """The records being changed, to look a reference up in."""
        return Snapshot(self.location, tuple(records), True, None)


def usage_batch(used: Mapping[str, Used]) -> dict[str, tuple[datetime, str | None]]:
    """`record_usage`'s batch as (time in UTC, whole seconds; client address cut to
    what the store keeps) per token id."""
    batch: dict[str, tuple[datetime, str | None]] = {}
    for token_id, use in used.items():
        when, client = use if isinstance(use, tuple) else (use, None)
        batch[token_id] = (
            to_utc(when).replace(microsecond=0),
            client_text(client, MAX_CLIENT_LEN),
        )
    return batch


def _find_pairing(pairings: Iterable[PairingRecord], code: str) -> PairingRecord | None:
    """The pairing whose digest is the code's, compared in constant time (there
    are few: one comparison each)."""
    wanted = digest(code)
    found = None
    for pairing in pairings:
        if hmac.compare_digest(pairing.digest, wanted):
            found = pairing
    return found


def _permissions(value: str | Iterable[Permission] | None) -> tuple[Permission, ...]:
    if value is None:
        return canonical(ALL_PERMISSIONS)
    if isinstance(value, str):
        return parse_permissions(value)
    try:
        perms = canonical(Permission(p) for p in value)
    except ValueError:
        raise InvalidPermissions("permissions: choose from read, write, execute") from None
    if not perms:
        raise InvalidPermissions("permissions: at least one of read, write, execute is required")
    return perms


def clean_directories(directories: Iterable[str]) -> tuple[str, ...]:
    """A token's directories: absolute, canonical, each once, in the order given.

    Plain text only, as names are: a directory is shown in tables, details and
    the access log, and a pasted escape sequence or newline is a mistake.
    """
    if isinstance(directories, str):
        raise TypeError("directories is a list of paths, not a single string")
    out: dict[str, None] = {}
    for raw in directories:
        try:
            clean = normalize_directory(raw.strip())
        except BadDirectory as exc:
            raise InvalidDirectory(f"directory: {exc}") from None
        require_plain_text(clean, "directory", InvalidDirectory, plural="directories")
        out[clean] = None
    return tuple(out)


def _check_name_free(name: str, records: Iterable[TokenRecord]) -> None:
    folded = name.casefold()
    for record in records:
        if record.name.casefold() == folded:
            raise DuplicateName(
                f"a token named '{escape_controls(record.name)}' already exists (id {record.id})"
            )
        if record.id == name:
            raise DuplicateName(f"'{name}' is another token's id; choose a different name")


@functools.cache
def _generated_pattern(stem: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(stem)}-([0-9]{{1,9}})", re.IGNORECASE)


def generated_name(taken: Collection[str], stem: str = "token") -> str:
    """`token-N` (or `<stem>-N`: `device-N` for `pair`), with N one above the
    highest such name in use.

    Names are unique case-insensitively, so `TOKEN-3` written by hand counts too.
    """
    highest = 0
    folded = set()
    start = f"{stem.casefold()}-"
    pattern = _generated_pattern(stem)
    for name in taken:
        lowered = name.casefold()
        folded.add(lowered)
        if lowered.startswith(start):  # the regex only where it can match
            match = pattern.fullmatch(name)
            if match:
                highest = max(highest, int(match.group(1)))
    n = highest + 1
    while f"{start}{n}" in folded:
        n += 1
    return f"{stem}-{n}"
