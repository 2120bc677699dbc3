"""The authorization decision: one pure function, plus a cache that follows the file.

`authorize(index, authorization, method, target, now=..., ...)` decides a request:

    200 ok / public
    400 bad_directory
    401 missing_token | malformed | bad_checksum | unknown_token | unknown_session |
        expired
    403 insufficient_scope | method_not_allowed | directory_not_allowed |
        directory_unknown | protected_path | path_not_allowed

Order of checks: the method (anything outside the seven known methods is refused
whatever the token holds), the public health path, the credentials
(`Authorization: Bearer <token>`, or `Basic base64(anything:<token>)` as
opencode's own clients send; without either, a browser session's cookie), the
token's format and checksum (offline, before any lookup), the digest lookup,
expiry, then the permissions the route policy
(`core.authz.policy`) says the operation needs, then the directory scope
(`core.authz.scope`): the directory opencode will work in must lie inside the
server's roots and the token's directories, no protected path is reached, and
one of opencode's config files is read only with `execute` (403
insufficient_scope, as the file needs more than its row).

A browser session (the cookie holds its id, `ocsess_...`) is looked up the same
way (format and checksum, digest, `hmac.compare_digest`), must not have expired,
and is then decided exactly as its token's own request: the token's expiry,
permissions and directories. (The cross-site rule for a cookie's
state-changing requests is the server's: it sees the Origin.)

Lookup is by SHA-256 digest in a dict, confirmed with `hmac.compare_digest`. The
dict's own key comparison is not constant-time, but what it compares is the
digest of the *caller's* guess: its timing can reveal only how close that digest
is to a stored digest, which says nothing about any stored secret.
"""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from core.authz.index import Hit, TokenIndex
from core.authz.policy import UNCLASSIFIED, Classified, DirectoryFrom, Policy, Rule, default_policy
from core.authz.rules import (
    SHORT_PATH,
    is_public,
    method_permission,
    normalize_path,
    request_path,
    shown_path,
)
from core.authz.scope import (
    UNRESTRICTED,
    Headers,
    ServerScope,
    SessionLookup,
    check_scope,
    directory_request,
    no_headers,
    no_sessions,
)
from core.model.permissions import ALL_PERMISSIONS, Permission, canonical
from core.model.token_format import (
    SESSION_PREFIX,
    FormatProblem,
    check_format,
    looks_like_ocat,
    usable_legacy_secret,
)

if TYPE_CHECKING:
    pass  # imported for real only by a server (start-up cost of the CLI)

_NOTHING: frozenset[Permission] = frozenset()
_SECOND_NS = 1_000_000_000
_COARSE_TICK_NS = 2 * _SECOND_NS


class Reason(StrEnum):
    OK = "ok"
    PUBLIC = "public"
    MISSING_TOKEN = "missing_token"  # noqa: S105 - a reason, not a secret
    MALFORMED = "malformed"
    BAD_CHECKSUM = "bad_checksum"
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 - a reason, not a secret
    UNKNOWN_SESSION = "unknown_session"
    EXPIRED = "expired"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BAD_DIRECTORY = "bad_directory"
    DIRECTORY_NOT_ALLOWED = "directory_not_allowed"
    DIRECTORY_UNKNOWN = "directory_unknown"
    PROTECTED_PATH = "protected_path"
    PATH_NOT_ALLOWED = "path_not_allowed"


# An unclassified request: all three permissions, and its directory read as an
# instance route's (the query parameter, the header, or opencode's own).
_UNCLASSIFIED_RULE = Rule(
    method="*",
    path="*",
    needs=ALL_PERMISSIONS,
    directory=DirectoryFrom.INSTANCE,
    reason="no row for this method and path",
)


class Decision(NamedTuple):
    """What was decided about one request. Immutable; a named tuple rather than a
    frozen dataclass because one is built per request (4x cheaper to build)."""

    status: int
    reason: Reason
    required: frozenset[Permission]
    granted: frozenset[Permission]
    token_id: str | None
    path: str
    rule: str = UNCLASSIFIED
    """The policy row that decided (`GET /file/content`), or `unclassified`."""
    message: str | None = None
    """Why a directory was refused, in words (never a secret)."""
    session_id: str | None = None
    """The browser session (its public id) the request came with, if it was
    decided on a session's cookie."""

    @property
    def allowed(self) -> bool:
        return self.status == 200

    def www_authenticate(self, realm: str = "opencode") -> tuple[str, ...]:
        """The challenges for a 401/403 (one header each); none when allowed.

        A 401 offers Basic first - browsers then prompt, and nginx passes only
        the first challenge of an auth_request answer - and Bearer with the
        RFC 6750 error code (none when no credentials were sent, section 3.1).
        """
        if self.allowed:
            return ()
        if self.status == 401 and (
            self.reason is Reason.UNKNOWN_SESSION or self.session_id is not None
        ):
            # A browser's cookie that no longer signs in (its token deleted, the
            # session ended or expired): a Basic challenge would pop the browser's
            # login prompt up over the web app's next fetch (and hang it there);
            # its next page load goes to the login page instead.
            return (f'Bearer realm="{realm}", error="invalid_token"',)
        if self.reason is Reason.MISSING_TOKEN:
            return (f'Basic realm="{realm}"', f'Bearer realm="{realm}"')
        if self.status == 401:
            return (f'Basic realm="{realm}"', f'Bearer realm="{realm}", error="invalid_token"')
        if self.reason is Reason.INSUFFICIENT_SCOPE:
            scope = " ".join(p.value for p in canonical(self.required))
            return (f'Bearer realm="{realm}", error="insufficient_scope", scope="{scope}"',)
        return ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "allowed": self.allowed,
            "status": self.status,
            "reason": self.reason.value,
            "rule": self.rule,
            "required": [p.value for p in canonical(self.required)],
            "granted": [p.value for p in canonical(self.granted)],
            "token_id": self.token_id,
            "path": self.path,
        }
        if self.message is not None:
            data["message"] = self.message
        if self.session_id is not None:
            data["session_id"] = self.session_id
        return data


def bearer_token(authorization: str | None) -> str | Reason:
    """The token from an `Authorization` header value, or why there is none.

    `Bearer <token>`, or `Basic base64(user:<token>)` with the token as the
    password and any user name (what `opencode attach -p` and a browser's
    prompt send). Schemes are case-insensitive. No header, or another scheme,
    means no credentials were given at all: `missing_token`.
    """
    parts = (authorization or "").split()
    if not parts:
        return Reason.MISSING_TOKEN
    scheme = parts[0].lower()
    if scheme not in ("bearer", "basic"):
        return Reason.MISSING_TOKEN
    if len(parts) != 2:
        return Reason.MALFORMED
    if scheme == "bearer":
        return parts[1]
    return basic_password(parts[1])


def basic_password(encoded: str) -> str | Reason:
    """The password of Basic credentials (`base64(user:password)`), or `malformed`."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return Reason.MALFORMED
    _, colon, password = decoded.partition(":")
    if not colon or not password:
        return Reason.MALFORMED
    return password


_MESSAGES = {
    Reason.MISSING_TOKEN: (
        "no token: send Authorization: Bearer <token>, or Basic credentials "
        "with the token as the password"
    ),
    Reason.MALFORMED: "the credentials are not a well-formed token (ocat_...)",
    Reason.BAD_CHECKSUM: "the token's checksum does not match: it was mistyped or cut short",
    Reason.UNKNOWN_TOKEN: "this token is not in the store: it was deleted, rotated or never issued",
    Reason.UNKNOWN_SESSION: (
        "this browser session is not in the store: it was ended, or its token was deleted, "
        "rotated or changed; sign in again"
    ),
    Reason.EXPIRED: "this token has expired",
    Reason.METHOD_NOT_ALLOWED: "this HTTP method is refused whatever the token holds",
}


def _words(perms: frozenset[Permission]) -> str:
    names = [p.value for p in canonical(perms)]
    if not names:
        return "nothing"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _explain(
    reason: Reason, rule: str, required: frozenset[Permission], granted: frozenset[Permission]
) -> str:
    """One line a person can act on (opencode's clients show it as it is)."""
    if reason is Reason.INSUFFICIENT_SCOPE:
        return f"{rule} needs {_words(required)}; this token has {_words(granted)}"
    return _MESSAGES.get(reason, reason.value)


def _deny(
    status: int,
    reason: Reason,
    required: frozenset[Permission],
    path: str,
    rule: str,
    granted: frozenset[Permission] = _NOTHING,
    token_id: str | None = None,
    message: str | None = None,
    session_id: str | None = None,
) -> Decision:
    if message is None:
        message = _explain(reason, rule, required, granted)
    return Decision(status, reason, required, granted, token_id, path, rule, message, session_id)


_SESSION_FORMAT_MESSAGE = "the session cookie is not a well-formed session id (ocsess_...)"
_SESSION_EXPIRED_MESSAGE = "this browser session has expired; sign in again"


def _session_credentials(
    index: TokenIndex,
    session: str,
    now: datetime,
    policy: Policy,
    method: str,
    target: str,
) -> tuple[Hit, str] | Decision:
    """The token entry and session id a session cookie stands for, or the 401 that
    refuses it: malformed or a bad checksum (checked offline, after a failed
    lookup, as for tokens), unknown, or past the session's end."""
    found = index.match_session(session)
    if found is None:
        bad = check_format(session, SESSION_PREFIX)
        if bad is not None:
            return _deny(
                401,
                _FORMAT_REASON[bad],
                *_before_token(policy, method, target),
                message=_SESSION_FORMAT_MESSAGE,
            )
        return _deny(401, Reason.UNKNOWN_SESSION, *_before_token(policy, method, target))
    record = found.session
    if now >= found.expires:
        early = _before_token(policy, method, target)
        return _deny(
            401,
            Reason.EXPIRED,
            *early,
            found.token[1],
            record.token_id,
            _SESSION_EXPIRED_MESSAGE,
            record.id,
        )
    return found.token, record.id


_FORMAT_REASON = {
    FormatProblem.MALFORMED: Reason.MALFORMED,
    FormatProblem.BAD_CHECKSUM: Reason.BAD_CHECKSUM,
}


@functools.lru_cache(maxsize=4096)
def _request_rules(policy: Policy, method: str, target: str) -> tuple[str, Classified, str]:
    """What the method and target alone decide: the normalised path (for logs),
    the policy's verdict (the row, and the permissions needed - None: method
    refused) and the row's name.

    Pure functions of public request data, so memoised: a server sees the same
    few targets over and over. Nothing secret is kept here, and a flood of
    unique targets only makes it as slow as no cache (the size is bounded).
    """
    classified = policy.classify(method, target)
    return normalize_path(target), classified, classified.rule_name


def format_problem(token: str, index: TokenIndex) -> Reason | None:
    """Why `token` cannot be a token at all: an ocat_ token must be well-formed
    (its checksum right); anything else must be a usable PR #8217 secret, and
    only a store that still holds one accepts such a secret."""
    if looks_like_ocat(token):
        bad = check_format(token)
        return None if bad is None else _FORMAT_REASON[bad]
    if not index.has_legacy or not usable_legacy_secret(token):
        return Reason.MALFORMED
    return None


ROUTED_BEFORE_TOKEN = SHORT_PATH
"""The longest path (query excluded) routed for a request whose token has not
passed: its answer and log line then name the row and what it needs. A longer
one is described without routing it (`NOT_ROUTED`, the method's permission)."""
NOT_ROUTED = "not routed"


def _before_token(
    policy: Policy, method: str, target: str
) -> tuple[frozenset[Permission], str, str]:
    """What a refusal made before the token passed says it needed, the path it
    shows and the rule: the real ones for a path of up to ROUTED_BEFORE_TOKEN
    characters (memoised), otherwise the method's own permission, the first
    characters of the path undecoded, and `not routed` - work bounded by that
    limit whatever the target holds."""
    path = request_path(target)
    if len(path) <= ROUTED_BEFORE_TOKEN:
        normalized, classified, rule = _request_rules(policy, method, target)
        return classified.needs or _NOTHING, normalized, rule
    floor = method_permission(method)
    return (
        _NOTHING if floor is None else frozenset((floor,)),
        shown_path(path, ROUTED_BEFORE_TOKEN),
        NOT_ROUTED,
    )


def authorize(
    index: TokenIndex,
    authorization: str | None,
    method: str,
    target: str,
    *,
    now: datetime,
    policy: Policy | None = None,
    scope: ServerScope = UNRESTRICTED,
    headers: Headers = no_headers,
    sessions: SessionLookup = no_sessions,
    cookie: str | None = None,
) -> Decision:
    """Decide one request. Pure: same inputs, same decision; no I/O except
    resolving symbolic links of the directories it checks.

    `scope` is the server's (roots, opencode's own directory, protected paths);
    `headers` gives the request's header values by lower-case name; `sessions`
    answers an opencode session's directory, or None when the caller has not
    looked it up yet - then `core.authz.scope.SessionLookupNeeded` is raised,
    after the credentials and permissions have passed, so only an authorized
    request can make the caller ask opencode.

    `cookie` is the sign-in cookie's value, a browser session's id: used when the
    request has no `Authorization` credentials (an `Authorization` header always
    wins), it is decided as its token's own request would be, and the decision
    names the session (`Decision.session_id`).
    """
    policy = policy if policy is not None else default_policy()
    # Credentials are checked before the path is routed: routing and the floor's
    # decoding passes are linear but not cheap on an 8 KB target full of
    # escapes, and a request without a valid token must not cost more than a
    # plain one (see `_before_token`).
    if method_permission(method) is None:
        _, path, rule = _before_token(policy, method, target)
        return _deny(403, Reason.METHOD_NOT_ALLOWED, _NOTHING, path, rule)
    if is_public(method, target):
        _, path, rule = _before_token(policy, method, target)
        return Decision(200, Reason.PUBLIC, _NOTHING, _NOTHING, None, path, rule)

    token = bearer_token(authorization)
    session_id = None
    if isinstance(token, Reason):
        if token is not Reason.MISSING_TOKEN or cookie is None:
            return _deny(401, token, *_before_token(policy, method, target))
        credentials = _session_credentials(index, cookie, now, policy, method, target)
        if isinstance(credentials, Decision):
            return credentials
        hit, session_id = credentials
    else:
        matched = index.match(token)
        if matched is None or matched[0].legacy:
            # Looked up first: a token issued here is well-formed by construction,
            # so the format is checked only to say why a token that did not match
            # failed (a typo's checksum, junk) - and for a PR #8217 secret.
            bad = format_problem(token, index)
            if bad is not None:
                return _deny(401, bad, *_before_token(policy, method, target))
            if matched is None:
                return _deny(401, Reason.UNKNOWN_TOKEN, *_before_token(policy, method, target))
        hit = matched
    record, granted, expires = hit
    if expires is not None and now >= expires:
        early = _before_token(policy, method, target)
        return _deny(401, Reason.EXPIRED, *early, granted, record.id, session_id=session_id)

    path, classified, rule = _request_rules(policy, method, target)
    required = classified.needs
    if required is None:  # the method was checked above; kept so this fails closed
        return _deny(403, Reason.METHOD_NOT_ALLOWED, _NOTHING, path, rule, session_id=session_id)
    if not required <= granted:
        why = None if classified.rule is None else classified.rule.reason
        message = _explain(Reason.INSUFFICIENT_SCOPE, rule, required, granted)
        if why is not None:
            message += f" ({why})"
        elif classified.rule is None:
            message += " (no policy row names this operation: all three are needed)"
        return _deny(
            403,
            Reason.INSUFFICIENT_SCOPE,
            required,
            path,
            rule,
            granted,
            record.id,
            message,
            session_id,
        )

    decided_by = classified.rule or _UNCLASSIFIED_RULE
    request = directory_request(decided_by, classified.params, target, headers)
    refusal = check_scope(decided_by, request, scope, record.directories, sessions, granted)
    if refusal is not None:
        reason = Reason(refusal.reason.value)
        message = refusal.message
        if refusal.needs:  # the file needs more than the row (opencode's config files)
            required = required | refusal.needs
            message = f"{_explain(reason, rule, required, granted)} ({message})"
        return _deny(
            refusal.status, reason, required, path, rule, granted, record.id, message, session_id
        )
    if session_id is not None:
        return Decision(200, Reason.OK, required, granted, record.id, path, rule, None, session_id)
    return Decision(200, Reason.OK, required, granted, record.id, path, rule)
