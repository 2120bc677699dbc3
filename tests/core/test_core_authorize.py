"""The authorization decision (200 / 401 / 403 with a reason) and the cached authorizer
that follows the store file, so revocation applies to the very next request."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import threading
import time

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Decision, Reason, authorize, bearer_token
from core.authz.index import TokenIndex
from core.model.errors import LegacyStoreFound, StoreCorrupt
from core.model.permissions import Permission
from core.model.token_format import PREFIX, checksum, generate
from core.store import FileSnapshot, Fingerprint, StoreReader, TokenStore
from core.store.file import reading as store_module
from tests.core.core_helpers import FakeClock

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE


class Tokens:
    """A store with one token per permission set, and an authorizer over it."""

    def __init__(self, store: TokenStore, clock: FakeClock) -> None:
        self.store = store
        self.clock = clock
        self.full = store.create(name="full").secret.reveal()
        self.read = store.create(name="read", permissions="read").secret.reveal()
        self.write = store.create(name="write", permissions="write").secret.reveal()
        self.rw = store.create(name="rw", permissions="read,write").secret.reveal()
        self.rx = store.create(name="rx", permissions="read,execute").secret.reveal()
        self.short = store.create(name="short", expires="1h").secret.reveal()
        self.auth = CachedAuthorizer(StoreReader(store.path), clock=clock)

    def decide(self, token: str | None, method: str = "GET", path: str = "/file") -> Decision:
        header = None if token is None else f"Bearer {token}"
        return self.auth.decide(header, method, path)


@pytest.fixture
def t(store: TokenStore, clock: FakeClock) -> Tokens:
    return Tokens(store, clock)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unknown_token() -> str:
    return generate(lambda n: b"\x07" * n).reveal()


# --- methods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "token_attr", "status"),
    [
        ("GET", "/file", "read", 200),
        ("HEAD", "/file", "read", 200),
        ("OPTIONS", "/file", "read", 200),
        ("GET", "/file", "write", 403),
        ("OPTIONS", "/file", "write", 403),
        ("POST", "/log", "write", 200),
        ("POST", "/log", "read", 403),
        ("POST", "/project/git/init", "write", 200),
        # the policy adds execute to what changes what runs
        ("PATCH", "/config", "rw", 403),
        ("PATCH", "/config", "full", 200),
        ("PUT", "/pty/abc", "rx", 403),
        ("DELETE", "/session/abc", "rw", 403),
        # nothing classifies these: all three permissions
        ("PUT", "/file", "rw", 403),
        ("DELETE", "/file", "full", 200),
    ],
)
def test_method_and_policy_permissions(
    t: Tokens, method: str, path: str, token_attr: str, status: int
) -> None:
    decision = t.decide(getattr(t, token_attr), method, path)
    assert decision.status == status, decision
    assert decision.reason is (Reason.OK if status == 200 else Reason.INSUFFICIENT_SCOPE)


@pytest.mark.parametrize(
    "method", ["TRACE", "CONNECT", "PROPFIND", "MKCOL", "FOO", "", "get", "Post", "delete"]
)
@pytest.mark.parametrize("path", ["/file", "/session/1", "/global/health"])
def test_unknown_methods_are_refused_whatever_the_token(t: Tokens, method: str, path: str) -> None:
    for token in (t.full, None, "garbage", unknown_token()):
        decision = t.decide(token, method, path)
        assert (decision.status, decision.reason) == (403, Reason.METHOD_NOT_ALLOWED)
        assert not decision.allowed
        assert decision.token_id is None
        assert decision.granted == frozenset()


# --- the public health check -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_health_needs_no_token(t: Tokens, method: str) -> None:
    decision = t.decide(None, method, "/global/health")
    assert (decision.status, decision.reason) == (200, Reason.PUBLIC)
    assert decision.www_authenticate() == ()
    # Even a broken header does not matter there.
    assert t.auth.decide("Bearer junk", method, "/global/health").allowed


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/global/health"),
        ("OPTIONS", "/global/health"),
        ("GET", "/global/health/"),
        ("GET", "//global/health"),
        ("GET", "/global/%68ealth"),
        ("GET", "/Global/Health"),
        ("GET", "/global/healthcheck"),
        ("GET", "/global/health/../config"),
    ],
)
def test_only_exactly_that_path_and_get_head_are_public(t: Tokens, method: str, path: str) -> None:
    decision = t.decide(None, method, path)
    assert (decision.status, decision.reason) == (401, Reason.MISSING_TOKEN)


# --- the Authorization header -------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(t: Tokens, scheme: str) -> None:
    assert t.auth.decide(f"{scheme} {t.full}", "GET", "/file").allowed
    assert t.auth.decide(f"{scheme}   {t.full}  ", "GET", "/file").allowed


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, Reason.MISSING_TOKEN),
        ("", Reason.MISSING_TOKEN),
        ("   ", Reason.MISSING_TOKEN),
        ("Basic b3BlbmNvZGU6cHc=", Reason.MALFORMED),  # opencode:pw - pw is no token
        ("Basic {basic_unknown}", Reason.UNKNOWN_TOKEN),
        ("Basic {basic_bad_sum}", Reason.BAD_CHECKSUM),
        ("Basic !!!", Reason.MALFORMED),  # not base64
        ("Basic {basic_no_colon}", Reason.MALFORMED),
        ("Basic {basic_empty_password}", Reason.MALFORMED),
        ("Basic", Reason.MALFORMED),
        ("Token {full}", Reason.MISSING_TOKEN),  # another scheme
        ("{full}", Reason.MISSING_TOKEN),  # no scheme at all
        ("Bearer", Reason.MALFORMED),
        ("Bearer ", Reason.MALFORMED),
        ("Bearer {full} extra", Reason.MALFORMED),
        ("Bearer not-a-token", Reason.MALFORMED),
        ("Bearer ocat_short", Reason.MALFORMED),
        ("Bearer {full}x", Reason.MALFORMED),
        ("Bearer {full_trunc}", Reason.MALFORMED),
        ("Bearer {bad_sum}", Reason.BAD_CHECKSUM),
        ("Bearer {typo}", Reason.BAD_CHECKSUM),
        ("Bearer {unknown}", Reason.UNKNOWN_TOKEN),
    ],
)
def test_bad_credentials_are_401_with_the_reason(
    t: Tokens, header: str | None, reason: Reason
) -> None:
    full = t.full
    body = full[5:27]
    typo_char = "A" if body[3] != "A" else "B"
    values = {
        "full": full,
        "full_trunc": full[:-1],
        "bad_sum": full[:-1] + ("0" if full[-1] != "0" else "1"),
        "typo": full[:8] + typo_char + full[9:],
        "unknown": unknown_token(),
    }
    values["basic_unknown"] = b64(f"opencode:{values['unknown']}")
    values["basic_bad_sum"] = b64(f"x:{values['bad_sum']}")
    values["basic_no_colon"] = b64(full)
    values["basic_empty_password"] = b64("opencode:")
    decision = t.auth.decide(
        None if header is None else header.format(**values), "GET", "/session/1"
    )
    assert (decision.status, decision.reason) == (401, reason)
    assert decision.required == {R, X}
    assert decision.granted == frozenset()
    assert decision.token_id is None
    challenges = decision.www_authenticate()
    # Basic first, so a browser prompts (and nginx passes only the first one).
    if reason is Reason.MISSING_TOKEN:
        assert challenges == ('Basic realm="opencode"', 'Bearer realm="opencode"')  # 6750 3.1
    else:
        assert challenges == (
            'Basic realm="opencode"',
            'Bearer realm="opencode", error="invalid_token"',
        )


def test_a_mistyped_or_junk_token_is_told_apart_from_an_unknown_one(
    t: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.authz import decision as authorize_module
    from core.model.token_format import check_format as real

    checked: list[str] = []

    def spy(token: str) -> object:
        checked.append(token)
        return real(token)

    monkeypatch.setattr(authorize_module, "check_format", spy)
    bad = t.full[:-1] + ("0" if t.full[-1] != "0" else "1")
    assert t.decide(bad).reason is Reason.BAD_CHECKSUM
    assert t.decide("ocat_" + "!" * 28).reason is Reason.MALFORMED
    assert t.decide("plain-legacy-looking").reason is Reason.MALFORMED
    assert t.decide(unknown_token()).reason is Reason.UNKNOWN_TOKEN
    # a token that matches was issued here, well-formed: its format is not re-checked
    checked.clear()
    assert t.decide(t.full).allowed
    assert checked == []


def test_expired_token_is_401_expired(t: Tokens, clock: FakeClock) -> None:
    assert t.decide(t.short).allowed
    clock.advance(minutes=59)
    assert t.decide(t.short).allowed
    clock.advance(minutes=1, seconds=1)
    decision = t.decide(t.short)
    assert (decision.status, decision.reason) == (401, Reason.EXPIRED)
    assert decision.token_id == t.store.get("short").id
    assert decision.www_authenticate()[1] == 'Bearer realm="opencode", error="invalid_token"'


def test_insufficient_scope_is_403_naming_the_scope(t: Tokens) -> None:
    decision = t.decide(t.rw, "POST", "/session/1/message")
    assert (decision.status, decision.reason) == (403, Reason.INSUFFICIENT_SCOPE)
    assert decision.required == {W, X}
    assert decision.granted == {R, W}
    assert decision.token_id == t.store.get("rw").id
    assert decision.www_authenticate() == (
        'Bearer realm="opencode", error="insufficient_scope", scope="write execute"',
    )
    assert decision.as_dict() == {
        "allowed": False,
        "status": 403,
        "reason": "insufficient_scope",
        "rule": "POST /session/{sessionID}/message",
        "required": ["write", "execute"],
        "granted": ["read", "write"],
        "token_id": t.store.get("rw").id,
        "path": "/session/1/message",
        "message": (
            "POST /session/{sessionID}/message needs write and execute; this token has "
            "read and write (prompts the agent, which runs tools and commands)"
        ),
    }


def test_a_long_path_is_not_routed_before_its_token_passes(t: Tokens) -> None:
    from core.authz.decision import NOT_ROUTED, ROUTED_BEFORE_TOKEN, _request_rules

    long_path = "/session/" + "%25" * 2700  # about 8 KB of escapes
    before = _request_rules.cache_info()
    for token in (None, "ocat_nope", unknown_token()):
        decision = t.decide(token, "POST", long_path + "?directory=/x")
        assert decision.status == 401
        assert decision.rule == NOT_ROUTED
        assert decision.required == {W}  # the method's own; the row is not looked up
        assert decision.path == long_path[:ROUTED_BEFORE_TOKEN] + "..."  # undecoded, cut
    after = _request_rules.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # no routing at all
    # a refused method and an expired token: the same bounded description
    assert t.decide(t.full, "TRACE", long_path).rule == NOT_ROUTED
    t.clock.advance(hours=2)
    expired = t.decide(t.short, "GET", long_path)
    assert (expired.reason, expired.rule) == (Reason.EXPIRED, NOT_ROUTED)
    # a token that passes gets the request routed as opencode would: a parameter
    # over 100 characters reaches no route, so it is unclassified (all three)
    passed = t.decide(t.full, "POST", long_path)
    assert (passed.status, passed.rule, passed.required) == (
        200,
        "unclassified",
        frozenset({R, W, X}),
    )
    assert t.decide(t.rw, "POST", long_path).reason is Reason.INSUFFICIENT_SCOPE
    assert _request_rules.cache_info().misses == before.misses + 1  # routed once, then memoised
    # and a short path is routed before the token too: the answer names the row
    short = t.decide(None, "GET", "/session/abc/message")
    assert (short.rule, short.required) == ("GET /session/{sessionID}/message", frozenset({R, X}))


def test_undecodable_bytes_in_a_path_are_shown_not_raised(t: Tokens) -> None:
    # aiohttp hands a path's non-UTF-8 bytes over as lone surrogates
    for path in ("/x\udcff", "/x\udcff" + "a" * 300, "/session/\udcff" + "b" * 300):
        for token in (None, t.full):
            decision = t.decide(token, "GET", path)
            assert decision.status in (200, 401)
            assert "\ufffd" not in decision.path and decision.path.isascii()
            assert "%EF%BF%BD" in decision.path


def test_allowed_decision(t: Tokens) -> None:
    decision = t.decide(t.full, "POST", "/session/%61bc/abort")
    assert decision.allowed
    assert (decision.status, decision.reason) == (200, Reason.OK)
    assert decision.rule == "POST /session/{sessionID}/abort"
    assert decision.path == "/session/abc/abort"
    assert decision.required == {W, X}
    assert decision.granted == {R, W, X}
    assert decision.www_authenticate() == ()
    # opencode does not resolve dot segments: this reaches no route of its API
    # (its catch-all serves the web app), so no row decides it - all three.
    odd = t.decide(t.full, "POST", "/global/../session/%61bc")
    assert odd.allowed and odd.rule == "unclassified"
    assert odd.required == {R, W, X}


# --- traversal and encodings need execute --------------------------------------------------


TRICKY_EXECUTE_PATHS = [
    "/global/../session",
    "/%73ession",
    "/%2573ession",
    "/session/..%2Fx",
    "//session",
    "/x\\session",
    "/SESSION",
    "/Session/1/Message",
    "/x/%2e%2e/pty",
    "http://localhost:4096/session",
    "http://h/%70ty/1",
    "/ses\tsion",
]


@pytest.mark.parametrize("path", TRICKY_EXECUTE_PATHS)
def test_tricky_paths_still_need_execute(t: Tokens, path: str) -> None:
    denied = t.decide(t.rw, "GET", path)
    assert (denied.status, denied.reason) == (403, Reason.INSUFFICIENT_SCOPE), path
    assert X in denied.required
    assert t.decide(t.full, "GET", path).allowed


@pytest.mark.parametrize("path", ["/file?path=/session", "/find/file?q=%2Fpty", "/file#/message"])
def test_a_query_string_alone_does_not_need_execute(t: Tokens, path: str) -> None:
    # Decided: the query is not part of the path the upstream routes on, so it
    # is dropped before the rule applies (as SPEC says), like the original did.
    assert t.decide(t.rw, "GET", path).allowed


# --- legacy secrets are only looked up when the store has some ------------------------------


def test_non_ocat_tokens_are_malformed_without_legacy_records(t: Tokens) -> None:
    assert t.decide("a" * 32).reason is Reason.MALFORMED


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer\tabc") == "abc"
    assert bearer_token(None) is Reason.MISSING_TOKEN
    assert bearer_token("Bearer a b") is Reason.MALFORMED


def test_authorize_is_pure(t: Tokens, clock: FakeClock) -> None:
    index = TokenIndex(t.store.tokens())
    header = f"Bearer {t.short}"
    first = authorize(index, header, "GET", "/x", now=clock.now)
    assert authorize(index, header, "GET", "/x", now=clock.now) == first
    later = authorize(index, header, "GET", "/x", now=clock.advance(days=1))
    assert later.reason is Reason.EXPIRED
    assert len(index) == 6


def test_entropy_body_is_what_matters_not_a_lookalike(t: Tokens) -> None:
    # A token with the right checksum but never issued: unknown, not accepted.
    head = PREFIX + "1" * 22
    assert t.decide(head + checksum(head)).reason is Reason.UNKNOWN_TOKEN


# --- the cached authorizer follows the file -------------------------------------------------


def test_revocation_applies_to_the_next_decision(t: Tokens) -> None:
    assert t.decide(t.full).allowed
    t.store.delete(["full"])
    assert t.decide(t.full).reason is Reason.UNKNOWN_TOKEN
    issued = t.store.create(name="again")
    assert t.decide(issued.secret.reveal()).allowed


def test_revocation_is_seen_in_a_tight_loop(store: TokenStore, clock: FakeClock) -> None:
    # Real files, no sleeping: every delete/rotate must be visible at once.
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    for i in range(30):
        token = store.create(name=f"n{i}").secret.reveal()
        assert auth.decide(f"Bearer {token}", "GET", "/x").allowed
        if i % 2:
            store.delete([f"n{i}"])
        else:
            store.rotate(f"n{i}")
        assert auth.decide(f"Bearer {token}", "GET", "/x").reason is Reason.UNKNOWN_TOKEN


def test_a_read_begun_before_a_deletion_does_not_answer_after_it(t: Tokens) -> None:
    """A read of the store already under way when a token is deleted (the
    revocation watcher's, another request's) read the file before the deletion:
    a request that arrives after it waits for that read, sees the file is still
    ahead, and reads again - it is never answered from the older index."""
    reader = t.auth._reader
    assert isinstance(reader, StoreReader)
    real = reader.reload
    read_done, go_on = threading.Event(), threading.Event()
    first: list[bool] = []

    def slow_first_reload() -> FileSnapshot:
        found = real()
        if not first:  # the first read: the file before the deletion, held a while
            first.append(True)
            read_done.set()
            go_on.wait(10)
        return found

    async def scenario() -> tuple[bool, bool]:
        t.store.create(name="change")  # a change, so that the next look reads the file
        reader.reload = slow_first_reload  # type: ignore[method-assign]
        early = asyncio.ensure_future(t.auth.fresh_index())
        await asyncio.get_running_loop().run_in_executor(None, read_done.wait, 10)
        t.store.delete(["full"])  # after the first read took the file
        late = asyncio.ensure_future(t.auth.fresh_index())
        await asyncio.sleep(0.05)
        go_on.set()
        await early
        index = await late
        return (
            t.auth.decide(f"Bearer {t.full}", "GET", "/file", index=index).allowed,
            len(first) == 1,
        )

    allowed, slowed = asyncio.run(scenario())
    assert slowed
    assert not allowed


class FrozenStat:
    """Makes every version of the file look identical to the authorizer: same
    inode, size, mtime_ns and ctime_ns - the worst case of a same-size rewrite
    within one timestamp tick that reuses the inode number."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        mtime_ns: int,
        auth: CachedAuthorizer,
        delay: float = 0,
    ) -> None:
        self.fingerprint = Fingerprint(1, 1, 1000, mtime_ns, mtime_ns + 1)
        self.reads = 0
        self.delay = delay
        reader = auth._reader
        assert isinstance(reader, StoreReader)
        real = store_module._snapshot

        def fake_reload() -> FileSnapshot:
            started = time.time_ns()
            snapshot = real(reader.path, None, started)
            self.reads += 1
            time.sleep(self.delay)  # a large store takes a while to parse
            frozen = dataclasses.replace(snapshot, version=self.fingerprint)
            reader.adopt(frozen)
            return frozen

        monkeypatch.setattr(reader, "reload", fake_reload)
        monkeypatch.setattr(reader, "stat_key", lambda: dataclasses.astuple(self.fingerprint))


def test_frozen_stat_control_an_old_file_is_served_from_the_cache(
    t: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the racy tests below: when the version in memory is old,
    # an unchanged fingerprint means "no change" and the file is not re-read.
    # (So a change that kept the fingerprint would go unseen - which is why a
    # version read within a tick of its mtime is read once more.)
    frozen = FrozenStat(monkeypatch, time.time_ns() - 10 * 10**9, t.auth)
    assert t.decide(t.full).allowed
    assert t.decide(t.full).allowed
    assert frozen.reads == 1
    t.store.delete(["full"])
    assert t.decide(t.full).allowed  # stale, as expected under a frozen stat
    assert frozen.reads == 1


def test_racy_window_a_same_fingerprint_rewrite_is_seen_once_the_window_passes(
    t: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git's racy-clean rule: a version read within the window of its mtime is
    read once more when the window has passed - once, not on every decision."""
    auth = CachedAuthorizer(StoreReader(t.store.path, racy_window=0.2), clock=t.clock)
    frozen = FrozenStat(monkeypatch, time.time_ns(), auth)
    assert auth.decide(f"Bearer {t.full}", "GET", "/x").allowed
    t.store.delete(["full"])
    for _ in range(5):  # inside the window: no read on every decision
        auth.decide(f"Bearer {t.full}", "GET", "/x")
    assert frozen.reads == 1
    time.sleep(0.25)
    assert auth.decide(f"Bearer {t.full}", "GET", "/x").reason is Reason.UNKNOWN_TOKEN
    assert frozen.reads == 2


def test_racy_window_is_measured_from_before_the_read(
    t: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the time was taken *after* reading and parsing, so a store
    # that took longer than the window to parse was never treated as racy even
    # though its bytes were read right after the write.
    frozen = FrozenStat(monkeypatch, time.time_ns(), t.auth, delay=0.2)
    assert t.decide(t.full).allowed
    frozen.delay = 0
    t.store.delete(["full"])
    assert t.decide(t.full).reason is Reason.UNKNOWN_TOKEN


def test_racy_window_covers_whole_second_timestamps(
    t: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file system that keeps whole seconds: a version read 1.5 s after its
    # (truncated) mtime can still be rewritten within the same second, so it is
    # read once more 2 s after that mtime.
    now = time.time_ns()
    whole = (now // 10**9) * 10**9 - 10**9
    frozen = FrozenStat(monkeypatch, whole, t.auth)
    frozen.fingerprint = Fingerprint(1, 1, 1000, whole, whole)
    if now - whole >= 2 * 10**9:  # pragma: no cover - only if the test itself stalled
        pytest.skip("too slow to stay inside the window")
    assert t.decide(t.full).allowed
    t.store.delete(["full"])
    time.sleep(max(0.0, (whole + 2 * 10**9 - time.time_ns()) / 1e9) + 0.05)
    assert t.decide(t.full).reason is Reason.UNKNOWN_TOKEN


def test_racy_versions_stop_being_re_read_once_old(
    t: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = CachedAuthorizer(StoreReader(t.store.path, racy_window=0.05), clock=t.clock)
    frozen = FrozenStat(monkeypatch, time.time_ns(), auth)
    auth.decide(f"Bearer {t.full}", "GET", "/x")
    time.sleep(0.08)
    auth.decide(f"Bearer {t.full}", "GET", "/x")  # re-read: the previous one was racy
    reads = frozen.reads
    for _ in range(5):
        auth.decide(f"Bearer {t.full}", "GET", "/x")
    assert frozen.reads == reads  # now settled: served from memory


def test_missing_file_means_no_tokens(store: TokenStore, clock: FakeClock) -> None:
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    token = generate(lambda n: b"\x01" * n).reveal()
    assert auth.decide(f"Bearer {token}", "GET", "/x").reason is Reason.UNKNOWN_TOKEN
    assert auth.decide(None, "GET", "/global/health").allowed
    issued = store.create(name="a")
    assert auth.decide(f"Bearer {issued.secret.reveal()}", "GET", "/x").allowed
    os.unlink(store.path)
    assert auth.decide(f"Bearer {issued.secret.reveal()}", "GET", "/x").reason is (
        Reason.UNKNOWN_TOKEN
    )


def test_corrupt_file_fails_closed_and_never_falls_back(t: Tokens) -> None:
    assert t.decide(t.full).allowed
    good = t.store.path.read_bytes()
    t.store.path.write_bytes(good[: len(good) // 2])
    for _ in range(3):
        with pytest.raises(StoreCorrupt) as info:
            t.decide(t.full)
        assert info.value.path == t.store.path
    t.store.path.write_bytes(good)
    assert t.decide(t.full).allowed


def test_legacy_file_fails_closed(store: TokenStore, clock: FakeClock) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        json.dumps([{"token": "abc" * 8, "permissions": ["read"], "createdAt": 0}])
    )
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    with pytest.raises(LegacyStoreFound):
        auth.decide("Bearer " + "abc" * 8, "GET", "/x")


def test_unreadable_path_fails_closed(store: TokenStore, clock: FakeClock) -> None:
    store.path.mkdir(parents=True)  # a folder where the file should be
    auth = CachedAuthorizer(StoreReader(store.path), clock=clock)
    from core.model.errors import StoreUnreadable

    with pytest.raises(StoreUnreadable, match="folder"):
        auth.decide("Bearer x", "GET", "/x")
