"""Starting `gateway` and `forward-auth`: flags checked, the store checked, and
only then aiohttp imported and the server run until a signal.

Nothing here imports aiohttp at module level: a bad flag is one line and exit 2
(and the store a one-line exit 3) even on the base install, which gets an
"install the gateway extra" line instead of an ImportError. asyncio is imported
only when a server starts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.cli.console import Console
from core.cli.exits import EXIT_SECOND_SIGNAL, UsageError
from core.cli.output import PROG, say, warn
from core.cli.store_access import named_location, startup_snapshot, write_problem
from core.gateway import settings as st
from core.gateway.extra import INSTALL_HINT, aiohttp_available
from core.store.location import StoreLocation

if TYPE_CHECKING:
    from core.gateway.access_log import BufferedLog
    from core.gateway.server import Listener
    from core.gateway.usage import UsageRecorder
    from core.store import Store


@dataclass(frozen=True)
class ServerOptions:
    """The flags `gateway` and `forward-auth` share."""

    store: str | None
    listen: str
    upstream: str
    header_timeout: float
    max_header_size: int
    max_headers: int
    max_connections: int
    max_connections_per_client: int
    directories: list[str] | None
    any_directory: bool
    shutdown_timeout: float
    access_log: str
    last_used: bool


@dataclass(frozen=True)
class GatewayOptions(ServerOptions):
    tls_cert: str | None
    tls_key: str | None
    connect_timeout: float
    upstream_timeout: float
    client_timeout: float


@dataclass(frozen=True)
class ForwardAuthOptions(ServerOptions):
    allow_non_loopback: bool


def run_gateway(options: GatewayOptions, console: Console) -> int:
    if not aiohttp_available():
        raise UsageError(INSTALL_HINT)
    listen = st.parse_listen(options.listen)
    upstream = st.parse_upstream(options.upstream)
    tls = st.server_ssl_context(options.tls_cert, options.tls_key)
    scope = st.parse_roots(options.directories, options.any_directory)
    location = _ready_store(options, scope, console)
    authorization = st.upstream_authorization(os.environ)
    if authorization is None:
        warn(
            console,
            f"{st.PASSWORD_ENV} is not set: requests are forwarded without credentials. "
            "Anyone who can reach opencode directly bypasses the tokens; start opencode "
            f"with {st.PASSWORD_ENV} set, on loopback, and give the gateway the same value.",
        )
    if not listen.loopback and tls is None:
        _loud_cleartext_warning(listen, console)

    from core.gateway import wiring
    from core.gateway.server import Listener

    config = st.GatewayConfig(
        upstream=upstream,
        authorization=authorization,
        timeouts=st.Timeouts(connect=options.connect_timeout, read=options.upstream_timeout),
        limits=_limits(options, options.client_timeout),
        tls=tls is not None,
        scope=scope,
    )
    store, usage = _store_and_usage(options, location, console)
    service = wiring.gateway(
        config,
        store,
        usage=usage,
        warn=functools.partial(warn, console),
        say=_say(console, "gateway"),
    )
    access = _open_access_log(options, console)
    listener = Listener(
        service,
        listen,
        limits=config.limits,
        ssl_context=tls,
        access_log=access,
        warn=functools.partial(warn, console),
    )

    async def main() -> int:
        async def announce() -> None:
            say(
                console,
                f"{PROG} gateway: listening on {listener.url} -> {upstream} "
                f"(store: {_shown(location)})",
            )

        return await _serve(listener, announce, "gateway", console)

    return _run(main, listen, access)


def run_forward_auth(options: ForwardAuthOptions, console: Console) -> int:
    if not aiohttp_available():
        raise UsageError(INSTALL_HINT)
    listen = st.parse_listen(options.listen)
    upstream = st.parse_upstream(options.upstream)
    scope = st.parse_roots(options.directories, options.any_directory)
    if scope.roots is None and not scope.any_directory:
        raise UsageError(
            "forward-auth needs the directories opencode may be asked to work in: "
            "--directory PATH (repeatable), or --any-directory to allow every one"
        )
    if not listen.loopback and not options.allow_non_loopback:
        raise UsageError(
            f"refusing to listen on {options.listen}: forward-auth trusts the "
            "X-Original-*/X-Forwarded-* headers, so only the proxy may reach it; listen on "
            "127.0.0.1 (or pass --allow-non-loopback if a firewall already ensures that)"
        )
    location = _ready_store(options, scope, console)

    from core.gateway import wiring
    from core.gateway.forward_auth import CANNOT_REVOKE_OPEN
    from core.gateway.server import Listener

    store, usage = _store_and_usage(options, location, console)
    access = _open_access_log(options, console)
    service = wiring.forward_auth(
        store,
        upstream=upstream,
        authorization=st.upstream_authorization(os.environ),
        scope=scope,
        usage=usage,
        warn=functools.partial(warn, console),
        say=_say(console, "forward-auth"),
    )
    listener = Listener(
        service,
        listen,
        limits=_limits(options),
        access_log=access,
        warn=functools.partial(warn, console),
    )

    async def main() -> int:
        async def ready() -> None:
            say(
                console,
                f"{PROG} forward-auth: listening on {listener.url} (store: {_shown(location)})",
            )
            say(console, f"{PROG} forward-auth: note: {CANNOT_REVOKE_OPEN}")

        return await _serve(listener, ready, "forward-auth", console)

    return _run(main, listen, access)


# --- start-up ------------------------------------------------------------------------


def _limits(options: ServerOptions, client_timeout: float | None = None) -> st.Limits:
    return st.Limits(
        header_timeout=options.header_timeout,
        client_timeout=st.DEFAULT_LIMITS.client_timeout
        if client_timeout is None
        else client_timeout,
        max_line_size=options.max_header_size,
        max_field_size=options.max_header_size,
        max_headers=options.max_headers,
        max_connections=options.max_connections,
        max_connections_per_client=options.max_connections_per_client,
        shutdown_timeout=options.shutdown_timeout,
    )


def _shown(location: StoreLocation) -> str:
    """The store as the start-up line and messages name it (a URL is masked)."""
    from core.store.pg.url import mask_url

    return mask_url(location) if isinstance(location, str) else str(location)


def _ready_store(
    options: ServerOptions, scope: st.ScopeSettings, console: Console
) -> StoreLocation:
    """The store a server starts on, checked: an unreadable one stops the start
    (exit 3; a database must be reachable, with its schema), an empty or open one
    is warned about, and so is `--any-directory`, loudly."""
    location = named_location(options.store)
    exists, count, warnings = startup_snapshot(location)
    if not exists or not count:
        warn(
            console,
            f"the token store {_shown(location)} has no tokens yet: every request except "
            f"GET /global/health will be refused until one is made ({PROG} token create)",
        )
    for warning in warnings:
        warn(console, warning)
    if scope.any_directory:
        _loud_any_directory_warning(console)
    return location


def _open_access_log(options: ServerOptions, console: Console) -> BufferedLog | None:
    """The access log `--access-log` names (None: off)."""
    from core.gateway.access_log import open_access_log

    try:
        return open_access_log(options.access_log, warn=functools.partial(warn, console))
    except OSError as exc:
        raise UsageError(f"--access-log {options.access_log}: {exc.strerror or exc}") from None


def _store_and_usage(
    options: ServerOptions, location: StoreLocation, console: Console
) -> tuple[Store, UsageRecorder | None]:
    """The store a server decides on, and its `last_used_at` writer: None with
    --no-last-used, and None - said once, here - when the store cannot be written
    (rather than a failed write, and a warning, every few seconds)."""
    from core.gateway.wiring import usage_recorder
    from core.store.engines import open_store

    store = open_store(location)
    if not options.last_used:
        return store, None
    problem = write_problem(store)
    if problem is not None:
        warn(
            console,
            f"the token store is read-only ({problem}): last_used_at will not be recorded "
            "(pass --no-last-used to silence this)",
        )
        return store, None
    return store, usage_recorder(store, functools.partial(warn, console))


def _say(console: Console, name: str) -> Callable[[str], None]:
    return lambda line: say(console, f"{PROG} {name}: {line}")


def _loud_any_directory_warning(console: Console) -> None:
    bar = "!" * 72
    for line in (
        bar,
        "--any-directory: opencode may be asked to work in ANY directory. Every",
        "request naming one makes opencode load that folder's configuration, and",
        "a read token can then list and read the files of any folder this user",
        "can read. Prefer --directory PATH for each project you serve.",
        bar,
    ):
        warn(console, line)


def _loud_cleartext_warning(listen: st.ListenAddress, console: Console) -> None:
    bar = "!" * 72
    for line in (
        bar,
        f"listening on {listen.host}, which is NOT a loopback address, WITHOUT TLS.",
        "Tokens and everything opencode sends (files, shell output) cross the",
        "network in clear text. Use --tls-cert/--tls-key, or put a TLS proxy in",
        "front and listen on 127.0.0.1.",
        bar,
    ):
        warn(console, line)


# --- running -------------------------------------------------------------------------


async def _serve(
    listener: Listener,
    ready: Callable[[], Coroutine[Any, Any, None]],
    name: str,
    console: Console,
) -> int:
    import asyncio

    from core.gateway.server import serve_until_signal

    tasks: set[asyncio.Task[None]] = set()

    def on_ready() -> None:
        task = asyncio.ensure_future(ready())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return await serve_until_signal(
        listener, lambda line: say(console, f"{PROG} {name}: {line}"), ready=on_ready
    )


def _run(
    main: Callable[[], Coroutine[Any, Any, int]],
    listen: st.ListenAddress,
    access: BufferedLog | None,
) -> int:
    from core.gateway.eventloop import run

    try:
        return run(main())
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}"
        ) from None
    except KeyboardInterrupt:
        return EXIT_SECOND_SIGNAL
    finally:
        if access is not None:  # the last batch, however the server stopped
            access.close()
