"""Browser sessions and pairing links: the operations every engine has (`Store`
inherits them), over the same atomic `_mutate` as the token operations."""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from datetime import datetime

from core.model.clock import TokenBytes, to_utc
from core.model.errors import (
    PairingInvalid,
    SessionNotFound,
    TokenExpired,
)
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
from core.model.token_format import (
    PAIRING_PREFIX,
    SESSION_PREFIX,
    Secret,
    check_format,
    digest,
    generate,
)
from core.store.changes import Changing, T, mark_seen
from core.store.snapshot import (
    IssuedPairing,
    IssuedSession,
    PairingStatus,
    Snapshot,
)


class SignInOperations(ABC):
    """Sessions and pairing links of tokens (signin.py in the gateway uses them).
    The token operations and the engines are in base.py."""

    token_bytes: TokenBytes
    location: str

    @abstractmethod
    def now(self) -> datetime: ...

    @abstractmethod
    def load(self) -> Snapshot[Hashable]: ...

    @abstractmethod
    def _mutate(self, change: Callable[[Changing], T]) -> T: ...

    @abstractmethod
    def _new_id(self, taken: Collection[str]) -> str: ...

    @abstractmethod
    def _snapshot_of(self, records: list[TokenRecord]) -> Snapshot[None]: ...

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
            return mark_seen(state.sessions, batch)

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


def _find_pairing(pairings: Iterable[PairingRecord], code: str) -> PairingRecord | None:
    """The pairing whose digest is the code's, compared in constant time (there
    are few: one comparison each)."""
    wanted = digest(code)
    found = None
    for pairing in pairings:
        if hmac.compare_digest(pairing.digest, wanted):
            found = pairing
    return found
