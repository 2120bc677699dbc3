"""A request with a browser session's cookie is decided exactly as its token's own
request: the session looked up (unknown, malformed, past its end: 401), then the
token's expiry, permissions and directories - and the cached authorizer follows
sessions as the store changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Reason, authorize
from core.authz.index import TokenIndex
from core.model.records import SessionRecord
from core.model.token_format import SESSION_PREFIX, digest, generate
from core.store import StoreReader, TokenStore
from core.store.entries import entry_of
from tests.core.core_helpers import T0_S, FakeClock, SeededBytes


class Browsers:
    """Tokens with a browser session each, and an authorizer over the store."""

    def __init__(self, store: TokenStore, clock: FakeClock) -> None:
        self.store = store
        self.clock = clock
        self.full_token = store.create(name="full").secret.reveal()
        store.create(name="read", permissions="read")
        store.create(name="narrow", directories=["/srv/app"])
        store.create(name="short", expires="1h")
        self.full = self.sign_in("full")
        self.read = self.sign_in("read")
        self.narrow = self.sign_in("narrow")
        self.short = self.sign_in("short")
        self.auth = CachedAuthorizer(StoreReader(store.path, racy_window=0), clock=clock)

    def sign_in(self, name: str) -> str:
        issued = self.store.create_session(name, client="192.0.2.1", user_agent="UA")
        return issued.secret.reveal()

    def decide(
        self, cookie: str | None, method: str = "GET", target: str = "/file?path=a"
    ) -> tuple[int, Reason, str | None, str | None]:
        decision = self.auth.decide(None, method, target, cookie=cookie)
        return decision.status, decision.reason, decision.token_id, decision.session_id


@pytest.fixture
def b(store: TokenStore, clock: FakeClock) -> Browsers:
    return Browsers(store, clock)


def _session(store: TokenStore, name: str) -> SessionRecord:
    token = store.get(name)
    (session,) = store.load().sessions_of(token.id)
    return session


def test_a_session_is_decided_as_its_token(b: Browsers) -> None:
    full = _session(b.store, "full")
    assert b.decide(b.full) == (200, Reason.OK, full.token_id, full.id)
    assert b.decide(b.full, "POST", "/session")[:2] == (200, Reason.OK)
    read = _session(b.store, "read")
    # permissions: the token's
    assert b.decide(b.read)[:2] == (200, Reason.OK)
    decision = b.auth.decide(None, "POST", "/session", cookie=b.read)
    assert (decision.status, decision.reason) == (403, Reason.INSUFFICIENT_SCOPE)
    assert (decision.token_id, decision.session_id) == (read.token_id, read.id)
    assert decision.as_dict()["session_id"] == read.id
    # directories: the token's
    narrow = _session(b.store, "narrow")
    assert b.decide(b.narrow, target="/file?directory=/srv/app&path=a")[:2] == (200, Reason.OK)
    refused = b.decide(b.narrow, target="/file?directory=/srv/other&path=a")
    assert refused == (403, Reason.DIRECTORY_NOT_ALLOWED, narrow.token_id, narrow.id)


def test_a_cookie_that_names_no_session_is_401(b: Browsers) -> None:
    unknown = generate(SeededBytes(77), SESSION_PREFIX).reveal()
    assert b.decide(unknown)[:2] == (401, Reason.UNKNOWN_SESSION)
    typo = b.full[:-1] + ("0" if b.full[-1] != "0" else "1")
    assert b.decide(typo)[:2] == (401, Reason.BAD_CHECKSUM)
    for junk in ("", "x", b.full_token, "ocsess_" + "!" * 28, b.full + "x"):
        assert b.decide(junk)[:2] in ((401, Reason.MALFORMED), (401, Reason.MISSING_TOKEN))
    # a token is not a session id, even a valid one
    assert b.decide(b.full_token)[:2] == (401, Reason.MALFORMED)
    decision = b.auth.decide(None, "GET", "/file", cookie=unknown)
    assert decision.token_id is None and decision.session_id is None
    assert decision.www_authenticate()  # the challenges, for programs


def test_a_session_past_its_end_is_401_expired(
    b: Browsers, store: TokenStore, clock: FakeClock
) -> None:
    short = _session(store, "short")
    clock.advance(minutes=59)
    assert b.decide(b.short)[:2] == (200, Reason.OK)
    clock.advance(minutes=2)  # the token and its session end together
    decision = b.auth.decide(None, "GET", "/file", cookie=b.short)
    assert (decision.status, decision.reason) == (401, Reason.EXPIRED)
    assert (decision.token_id, decision.session_id) == (short.token_id, short.id)
    assert decision.message is not None and "session has expired" in decision.message
    assert b.decide(b.full)[:2] == (200, Reason.OK)
    clock.advance(days=30)  # a never-expiring token's session ends after 30 days
    assert b.decide(b.full)[:2] == (401, Reason.EXPIRED)
    assert b.auth.decide(f"Bearer {b.full_token}", "GET", "/file").allowed  # the token does not


def test_a_session_of_a_token_that_expired_first_is_401(store: TokenStore) -> None:
    """A session can never outlast its token (the store makes it end then); were one
    found so, the token's expiry still refuses it."""
    token = store.create(name="t", expires="1h").record
    secret = generate(SeededBytes(5), SESSION_PREFIX).reveal()
    late = SessionRecord(
        id="late0001",
        digest=digest(secret),
        token_id=token.id,
        created_at=T0_S,
        expires_at=T0_S + timedelta(days=5),
        via="login",
    )
    index = TokenIndex(store.tokens(), (late,))
    ok = authorize(index, None, "GET", "/file", now=T0_S, cookie=secret)
    assert ok.allowed and ok.session_id == "late0001"
    later = T0_S + timedelta(hours=2)
    refused = authorize(index, None, "GET", "/file", now=later, cookie=secret)
    assert (refused.status, refused.reason) == (401, Reason.EXPIRED)
    assert refused.message == "this token has expired"


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.delete(["read"]),
        lambda s: s.rotate("read"),
        lambda s: s.edit("read", permissions="read,write"),
        lambda s: s.edit("read", expires="30d"),
        lambda s: s.edit("read", directories=["/srv"]),
        lambda s: s.end_sessions_of("read"),
        lambda s: s.end_sessions([s.load().sessions_of(s.get("read").id)[0].id]),
    ],
    ids=["delete", "rotate", "permissions", "expiry", "directories", "logout", "end"],
)
def test_the_next_request_after_a_session_ends_is_refused(b: Browsers, change: object) -> None:
    assert b.decide(b.read)[:2] == (200, Reason.OK)
    assert b.auth.still_valid(None, cookie=b.read)
    change(TokenStore(b.store.path, clock=b.clock))  # type: ignore[operator]  # another process
    assert b.decide(b.read)[:2] == (401, Reason.UNKNOWN_SESSION)
    assert not b.auth.still_valid(None, cookie=b.read)
    assert b.decide(b.full)[:2] == (200, Reason.OK)  # another token's session: untouched


def test_a_new_session_made_elsewhere_is_honoured_at_once(b: Browsers) -> None:
    other = TokenStore(b.store.path, clock=b.clock)
    assert b.decide(b.full)[:2] == (200, Reason.OK)
    reloads = b.auth.reloads
    fresh = other.create_session("read", client=None, user_agent=None).secret.reveal()
    assert b.decide(fresh)[:2] == (200, Reason.OK)
    assert b.auth.reloads == reloads + 1  # one read for one change (the tail only)
    other.record_session_seen({_session(b.store, "full").id: (b.clock.now, "198.51.100.1")})
    assert b.decide(fresh)[:2] == (200, Reason.OK)
    assert b.auth.held() is not None
    held = b.auth.held()
    assert held is not None
    assert {s.client for s in held.sessions} >= {"198.51.100.1"}


def test_authorization_credentials_win_over_the_cookie(b: Browsers) -> None:
    read = _session(b.store, "read")
    # a valid bearer token: decided on it, the cookie ignored
    decision = b.auth.decide(f"Bearer {b.full_token}", "POST", "/session", cookie=b.read)
    assert decision.allowed and decision.session_id is None
    # broken credentials are not rescued by a cookie
    broken = b.auth.decide("Bearer nonsense x", "GET", "/file", cookie=b.full)
    assert (broken.status, broken.reason) == (401, Reason.MALFORMED)
    # another scheme counts as no credentials: the cookie decides
    other = b.auth.decide("Negotiate abc", "GET", "/file", cookie=b.read)
    assert other.allowed and other.session_id == read.id
    # the public path needs nothing, cookie or not
    assert b.auth.decide(None, "GET", "/global/health", cookie="junk").allowed
    # a method refused whatever the token holds
    assert b.auth.decide(None, "TRACE", "/file", cookie=b.full).status == 403


def test_the_authorizer_answers_the_sign_in_pages(b: Browsers, clock: FakeClock) -> None:
    full = _session(b.store, "full")
    record = b.auth.token_of(f"  {b.full_token}\n")
    assert record is not None and record.id == b.store.load().require("full").id
    assert b.auth.token_of(b.full) is None  # a session id is no token
    assert b.auth.token_of("ocat_nonsense") is None
    session = b.auth.session_of(b.full)
    assert session is not None and session.id == full.id
    assert b.auth.session_of(b.full_token) is None
    assert b.auth.session_expiry(full.id) == full.expires_at
    assert b.auth.session_expiry("zzzzzzzz") is None
    short_token = b.store.create(name="soon", expires="1h").secret.reveal()
    clock.advance(hours=2)
    assert b.auth.token_of(short_token) is None  # expired
    assert not b.auth.still_valid(None, cookie=b.short)
    assert not b.auth.still_valid(None)  # nothing at all
    assert b.auth.still_valid(None, cookie=b.full)


def test_the_index_keeps_sessions_only_while_there_are_any(store: TokenStore) -> None:
    a = store.create(name="a").record
    b_ = store.create(name="b").record
    empty = TokenIndex(store.tokens())
    assert empty.session_count == 0 and empty._by_id is None  # nothing paid for sessions
    secret = store.create_session("a", client=None, user_agent=None).secret.reveal()
    with_session = empty.updated([], [], store.sessions())
    assert with_session.session_count == 1
    assert with_session.match_session(secret) is not None
    # a change of a token keeps its sessions indexed with its new record
    edited = entry_of(store.edit("a", name="renamed").after)
    updated = with_session.updated([entry_of(a)], [edited], store.sessions())
    found = updated.match_session(secret)
    assert found is not None and found.token[0] is edited
    # its deletion: the store drops the session; the index drops it either way
    gone = updated.updated([edited], [], store.sessions())
    assert gone.match_session(secret) is None
    assert gone.updated([], [], ()).session_count == 0
    assert len(gone) == 1 and gone.lookup("x") is None and b_.id
