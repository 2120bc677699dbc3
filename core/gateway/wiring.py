"""The gateway and forward-auth, wired in one place.

Each server is a graph of small parts, and every part gets what it uses in its
constructor - none reaches into another after the fact:

    store.new_reader() -> CachedAuthorizer  (follows the store; decides)
    OpencodeInfo        (asks opencode: its version, directory, a session's directory)
    Guard               (request -> decision -> answer; asks OpencodeInfo for sessions)
    ScopeLearner        (puts opencode's directory and the store's own files into
                         the authorizer's scope, once opencode answers)
    UsageRecorder       (last_used_at -> store.record_usage, in the background)
    SignIn              (the login, logout and pairing pages under /_auth/)
    Gateway / ForwardAuth (the service: starts and stops the parts)

serve.py (the command line) and the tests build their servers here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from core.authz.authorizer import CachedAuthorizer
from core.gateway.forward_auth import ForwardAuth, forwarded_client
from core.gateway.guard import Guard
from core.gateway.proxy import Gateway
from core.gateway.settings import GatewayConfig, ScopeSettings
from core.gateway.signin import SignIn
from core.gateway.upstream_info import OpencodeInfo, ScopeLearner
from core.gateway.usage import UsageRecorder
from core.store import KeepsFiles, Store

Say = Callable[[str], None]


def kept_files(store: Store) -> tuple[Path, ...]:
    """What the store keeps its tokens in on this machine (never served)."""
    return store.kept_files() if isinstance(store, KeepsFiles) else ()


def usage_recorder(store: Store, warn: Say) -> UsageRecorder:
    """`last_used_at` written to `store` in batches, off the request path."""
    return UsageRecorder(store.record_usage, write_sessions=store.record_session_seen, warn=warn)


def gateway(
    config: GatewayConfig,
    store: Store,
    *,
    usage: UsageRecorder | None,
    warn: Say,
    say: Say = lambda line: None,
) -> Gateway:
    authorizer = CachedAuthorizer(store.new_reader())
    opencode = OpencodeInfo(config.upstream, config.authorization)
    guard = Guard(authorizer, sessions=opencode, warn=warn, say=say)
    learner = ScopeLearner(
        opencode,
        authorizer,
        kept=kept_files(store),
        roots=config.scope.roots,
        any_directory=config.scope.any_directory,
        warn=warn,
        say=say,
    )
    signin = SignIn(
        store,
        authorizer,
        secure=lambda request: config.tls,
        client=lambda request: request.remote,
        warn=warn,
    )
    return Gateway(
        config,
        guard,
        policy=authorizer.policy,
        opencode=opencode,
        learner=learner,
        signin=signin,
        usage=usage,
    )


def forward_auth(
    store: Store,
    *,
    upstream: str | None,
    authorization: str | None,
    scope: ScopeSettings,
    usage: UsageRecorder | None,
    warn: Say,
    say: Say = lambda line: None,
) -> ForwardAuth:
    """forward-auth for the opencode at `upstream` (None: asks nothing of opencode,
    and decides on every directory - for tests of the decision alone)."""
    authorizer = CachedAuthorizer(store.new_reader())
    signin = SignIn(
        store,
        authorizer,
        secure=_proxy_says_https,
        client=forwarded_client,
        warn=warn,
    )
    if upstream is None:
        guard = Guard(authorizer, warn=warn, say=say)
        return ForwardAuth(guard, policy=authorizer.policy, signin=signin, usage=usage)
    opencode = OpencodeInfo(upstream, authorization)
    guard = Guard(authorizer, sessions=opencode, warn=warn, say=say)
    learner = ScopeLearner(
        opencode,
        authorizer,
        kept=kept_files(store),
        roots=scope.roots,
        any_directory=scope.any_directory,
        warn=warn,
        say=say,
    )
    return ForwardAuth(
        guard,
        policy=authorizer.policy,
        signin=signin,
        opencode=opencode,
        learner=learner,
        usage=usage,
    )


def _proxy_says_https(request: web.BaseRequest) -> bool:
    """Behind a proxy, TLS ends at the proxy: it says so (docs/nginx-and-caddy.md's configs set
    X-Forwarded-Proto; forward-auth trusts its proxy's headers, as for the rest)."""
    return request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https"
