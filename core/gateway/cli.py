"""The `gateway` and `forward-auth` subcommands.

`register(subparsers)` is the hook core/cli.py calls. This module imports no
aiohttp: flags are validated first (exit 2), the store is checked (exit 3), and
only then are the aiohttp-based modules imported - so the base install gets a
one-line "install the gateway extra" message, not an ImportError. asyncio is
imported only when a server starts: every other command builds this parser too,
and must not pay for it at start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.gateway import settings as st
from core.model.errors import InputError, StoreError
from core.store import read_snapshot
from core.store.location import StoreLocation, resolve_store

if TYPE_CHECKING:
    import asyncio

    from core.gateway.access_log import BufferedLog
    from core.gateway.guard import Guard
    from core.gateway.server import Listener
    from core.gateway.usage import UsageRecorder

PROG = "opencode-auth-tui"
INSTALL_HINT = (
    f"the gateway needs aiohttp: pip install '{PROG}[gateway]' "
    "(from a clone of the repository: pip install '.[gateway]')"
)
EXIT_USAGE = 2
EXIT_STORE = 3


def _say(line: str) -> None:
    """A line to stderr; nothing when nobody reads it any more (a closed pipe
    must not stop a server from serving, or from stopping)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _error(message: str) -> None:
    _say(f"{PROG}: error: {message}")


def _warn(message: str) -> None:
    _say(f"{PROG}: warning: {message}")


def _seconds_arg(name: str, *, zero_ok: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        try:
            return st.positive_seconds(name, value, zero_ok=zero_ok)
        except st.SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _count_arg(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}")
        return int(text)

    return parse


# --- parsers ------------------------------------------------------------------------

_GATEWAY_DESCRIPTION = f"""\
An authenticating reverse proxy in front of `opencode serve`.

Every request is decided by the token rules; an allowed one is forwarded with
the client's Authorization replaced by opencode's own Basic credentials, read
from the environment only: {st.PASSWORD_ENV} and
{st.USERNAME_ENV} (default "{st.DEFAULT_USERNAME}"). Bodies are streamed,
Server-Sent Events flow event by event, WebSockets are relayed. Basic
credentials with the token as the password work too (a browser's login
prompt, `opencode attach -p`), and so does opencode's one-off `?auth_token=`
login link, which is removed before forwarding and never logged.
"""

_GATEWAY_EPILOG = f"""\
examples:
  {st.PASSWORD_ENV}=... {PROG} gateway --upstream http://127.0.0.1:4096 --listen 127.0.0.1:4097
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:4097/session

exit codes: 0 stopped cleanly, 1 stopped by a second signal, 2 bad flag or cannot
listen, 3 token store unreadable or corrupt at start-up (while running, an
unreadable store answers 503 to every request).
"""

_FORWARD_AUTH_DESCRIPTION = """\
The token decision as a tiny HTTP service for nginx `auth_request`, Caddy
`forward_auth` and Traefik `ForwardAuth`. It answers 200 (with X-Auth-Token-Id),
401 or 403 (with WWW-Authenticate) for the request named by
X-Original-Method/X-Original-URI (nginx) or X-Forwarded-Method/X-Forwarded-Uri
(Caddy, Traefik). X-Original-* wins; if both families are present and disagree,
or the method or URI is missing, the answer is 400. A refusal's body is the
gateway's JSON ({"error", "message", ...}), also in the X-Auth-Error header, so
that nginx can answer with it instead of its own HTML page (see the README).

Those headers are trusted, so only the proxy may reach this service: it listens
on loopback and refuses any other address unless --allow-non-loopback is given.

An allowed answer also carries X-Auth-Content-Security-Policy,
X-Auth-Content-Type-Options and X-Auth-Content-Disposition: the proxy adds them
to opencode's answer (without the X-Auth- prefix) so that a project's files
never run as pages of its origin (see the README's nginx and Caddy configs).

Revocation and open connections: a deleted, rotated or expired token is refused
on its next request, but forward-auth never sees a connection again after the
proxy's auth subrequest, so an event stream or terminal opened through the
proxy stays open until it closes. The gateway (which relays connections itself)
closes them within a second; nginx ends them on `nginx -s reload` with
`worker_shutdown_timeout` set (see the README).
"""


def _add_common(
    parser: argparse.ArgumentParser,
    default_listen: str,
    *,
    per_client_default: int,
    directory_help: str,
) -> None:
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=default_listen,
        help=f"address to listen on (default {default_listen}; [::1]:PORT for IPv6; "
        "port 0 picks a free one and prints it)",
    )
    parser.add_argument(
        "--header-timeout",
        metavar="SECONDS",
        type=_seconds_arg("--header-timeout"),
        default=st.DEFAULT_LIMITS.header_timeout,
        help="a request head must arrive within this long of the connection opening or "
        "of the previous response; also how long an idle keep-alive connection is kept "
        f"(default {st.DEFAULT_LIMITS.header_timeout:g})",
    )
    parser.add_argument(
        "--max-header-size",
        metavar="BYTES",
        type=_count_arg(256, 1 << 20),
        default=st.DEFAULT_LIMITS.max_field_size,
        help="longest request line and longest single header accepted; longer ones are "
        f"answered 400 (default {st.DEFAULT_LIMITS.max_field_size})",
    )
    parser.add_argument(
        "--max-headers",
        metavar="N",
        type=_count_arg(8, 10_000),
        default=st.DEFAULT_LIMITS.max_headers,
        help=f"most header lines accepted in one request (default {st.DEFAULT_LIMITS.max_headers})",
    )
    parser.add_argument(
        "--max-connections",
        metavar="N",
        type=_count_arg(1, 1_000_000),
        default=st.DEFAULT_LIMITS.max_connections,
        help="open client connections at most; a newcomer waits up to 0.5 s for room "
        "(an idle connection dropped, or one closing), then is answered 503 and closed "
        f"(default {st.DEFAULT_LIMITS.max_connections})",
    )
    parser.add_argument(
        "--max-connections-per-client",
        metavar="N",
        type=_count_arg(0, 1_000_000),
        default=per_client_default,
        help="open connections one client address may hold; when it or the cap is "
        "reached, the connection idle the longest (for half a second or more) is dropped "
        "first; one with a request in progress never is "
        f"(default {per_client_default}; 0 = no share)",
    )
    parser.add_argument(
        "--directory",
        metavar="PATH",
        action="append",
        dest="directories",
        help=directory_help,
    )
    parser.add_argument(
        "--any-directory",
        action="store_true",
        help="serve every directory opencode is asked for (not recommended: any token "
        "can then make opencode load and read any folder on the machine)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        metavar="SECONDS",
        type=_seconds_arg("--shutdown-timeout", zero_ok=True),
        default=st.DEFAULT_LIMITS.shutdown_timeout,
        help="on SIGTERM/SIGINT, how long in-flight requests may take to finish "
        f"(default {st.DEFAULT_LIMITS.shutdown_timeout:g})",
    )
    parser.add_argument(
        "--access-log",
        metavar="PATH",
        default="-",
        help="where the access log goes, one JSON line per request with no secrets: "
        "a file (appended, created 0600), '-' for stdout (the default) or 'off'",
    )
    parser.add_argument(
        "--no-last-used",
        dest="last_used",
        action="store_false",
        help="do not record last_used_at in the store (for a read-only store)",
    )


def register(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    add_store_flag: Callable[[argparse.ArgumentParser], None] = lambda parser: None,
) -> None:
    """Add `gateway` and `forward-auth` to the CLI (called by core/cli.py, which
    passes how it adds `--store` to a command)."""
    gateway = subparsers.add_parser(
        "gateway",
        help="authenticating reverse proxy in front of opencode serve",
        description=_GATEWAY_DESCRIPTION,
        epilog=_GATEWAY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gateway.add_argument(
        "--upstream",
        metavar="URL",
        default=st.DEFAULT_UPSTREAM,
        help=f"the opencode server to protect (default {st.DEFAULT_UPSTREAM}); keep it "
        "on loopback with a password so nothing can bypass the gateway",
    )
    _add_common(
        gateway,
        st.DEFAULT_GATEWAY_LISTEN,
        per_client_default=st.DEFAULT_LIMITS.max_connections_per_client,
        directory_help="a directory opencode may be asked to work in (repeatable); the "
        "default is the one opencode itself serves (asked at start)",
    )
    gateway.add_argument(
        "--tls-cert", metavar="FILE", help="PEM certificate (chain) to serve HTTPS with"
    )
    gateway.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")
    gateway.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=_seconds_arg("--connect-timeout", zero_ok=True),
        default=st.DEFAULT_TIMEOUTS.connect,
        help="longest wait to connect to opencode, then 504 "
        f"(default {st.DEFAULT_TIMEOUTS.connect:g}; 0 = no limit)",
    )
    gateway.add_argument(
        "--upstream-timeout",
        metavar="SECONDS",
        type=_seconds_arg("--upstream-timeout", zero_ok=True),
        default=st.DEFAULT_TIMEOUTS.read,
        help="longest wait for opencode's answer, then 504, and between two pieces of "
        "a streamed body, then the response is cut; event streams are exempt "
        f"(default {st.DEFAULT_TIMEOUTS.read:g}; 0 = no limit)",
    )
    gateway.add_argument(
        "--client-timeout",
        metavar="SECONDS",
        type=_seconds_arg("--client-timeout", zero_ok=True),
        default=st.DEFAULT_LIMITS.client_timeout,
        help="longest wait for the next piece of a request body (then 408) or for the "
        "client to take the next piece of a response "
        f"(default {st.DEFAULT_LIMITS.client_timeout:g})",
    )
    add_store_flag(gateway)
    gateway.set_defaults(handler=run_gateway)

    forward_auth = subparsers.add_parser(
        "forward-auth",
        help="the token decision for nginx auth_request / Caddy forward_auth / Traefik",
        description=_FORWARD_AUTH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(
        forward_auth,
        st.DEFAULT_FORWARD_AUTH_LISTEN,
        per_client_default=0,
        directory_help="a directory opencode may be asked to work in (repeatable); "
        "required unless --any-directory",
    )
    forward_auth.add_argument(
        "--upstream",
        metavar="URL",
        default=st.DEFAULT_UPSTREAM,
        help="the opencode server behind the proxy, asked (with "
        f"{st.PASSWORD_ENV}) for its version and directory at start and for a "
        f"session's directory when needed (default {st.DEFAULT_UPSTREAM})",
    )
    forward_auth.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="listen on a non-loopback address anyway; only do this when nothing but "
        "the proxy can reach it, because it trusts the X-Original-*/X-Forwarded-* headers",
    )
    add_store_flag(forward_auth)
    forward_auth.set_defaults(handler=run_forward_auth)


# --- handlers -----------------------------------------------------------------------


def aiohttp_available() -> bool:
    try:
        import aiohttp  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return True


def _limits(args: argparse.Namespace, client_timeout: float | None = None) -> st.Limits:
    return st.Limits(
        header_timeout=args.header_timeout,
        client_timeout=st.DEFAULT_LIMITS.client_timeout
        if client_timeout is None
        else client_timeout,
        max_line_size=args.max_header_size,
        max_field_size=args.max_header_size,
        max_headers=args.max_headers,
        max_connections=args.max_connections,
        max_connections_per_client=args.max_connections_per_client,
        shutdown_timeout=args.shutdown_timeout,
    )


def _store_location(args: argparse.Namespace) -> StoreLocation:
    """The store file's path or the database URL (core.store.location.resolve_store)."""
    flag = getattr(args, "store", None)
    if flag is not None and not flag.strip():
        raise st.SettingsError(
            "--store is empty: give the store file's path or a postgresql:// URL, or leave it out"
        )
    try:
        return resolve_store(flag)
    except InputError as exc:
        raise st.SettingsError(str(exc)) from None


def _shown(location: StoreLocation) -> str:
    """The store as the start-up line and messages name it (a URL is masked)."""
    from core.store.pg.url import mask_url

    return mask_url(location) if isinstance(location, str) else str(location)


def _ready_store(args: argparse.Namespace, scope: st.ScopeSettings) -> StoreLocation | int:
    """The store a server starts on, checked (`_check_store`), or the exit code
    to stop with; the loud warning of `--any-directory` said on the way."""
    try:
        location = _store_location(args)
    except st.SettingsError as exc:
        _error(str(exc))
        return EXIT_USAGE
    refused = _check_store(location)
    if refused is not None:
        return refused
    if scope.any_directory:
        _loud_any_directory_warning()
    return location


def _check_store(location: StoreLocation) -> int | None:
    """Refuse to start on an unreadable store (the exit code); warn about an
    empty or open one. A database must be reachable, with its schema, at start."""
    try:
        if isinstance(location, Path):
            snapshot = read_snapshot(location)
        else:
            from core.store.engines import open_store

            store = open_store(location)
            try:
                snapshot = store.load()
            finally:
                store.close()
    except InputError as exc:  # the [postgres] extra is missing, a malformed URL
        _error(str(exc))
        return EXIT_USAGE
    except StoreError as exc:
        _error(str(exc) + (f" ({exc.hint})" if exc.hint else ""))
        return EXIT_STORE
    if not snapshot.exists or not snapshot.records:
        _warn(
            f"the token store {_shown(location)} has no tokens yet: every request except "
            f"GET /global/health will be refused until one is made ({PROG} token create)"
        )
    for warning in snapshot.warnings:
        _warn(warning)
    return None


def _open_access_log(args: argparse.Namespace) -> BufferedLog | Literal[False] | None:
    """The access log `--access-log` names (None: off), or False after saying why
    it cannot be opened."""
    from core.gateway.access_log import open_access_log

    try:
        return open_access_log(args.access_log, warn=_warn)
    except OSError as exc:
        _error(f"--access-log {args.access_log}: {exc.strerror or exc}")
        return False


def _components(
    args: argparse.Namespace, location: StoreLocation, name: str
) -> tuple[Guard, UsageRecorder | None]:
    """The guard (its authorizer follows the store: the file by stat, a database by
    LISTEN/NOTIFY and a short poll) and the `last_used_at` writer."""
    from core.authz.authorizer import CachedAuthorizer
    from core.gateway.guard import Guard
    from core.gateway.usage import UsageRecorder, store_writer
    from core.store.engines import open_store

    store = open_store(location)
    authorizer = CachedAuthorizer(location if isinstance(location, Path) else store.new_reader())
    guard = Guard(authorizer, warn=_warn, say=lambda line: _say(f"{PROG} {name}: {line}"))
    usage = (
        UsageRecorder(
            store_writer(store, authorizer),
            warn=_warn,
            written=authorizer.adopt,
        )
        if args.last_used
        else None
    )
    return guard, usage


def run_gateway(args: argparse.Namespace) -> int:
    if not aiohttp_available():
        _error(INSTALL_HINT)
        return EXIT_USAGE
    try:
        listen = st.parse_listen(args.listen)
        upstream = st.parse_upstream(args.upstream)
        tls = st.server_ssl_context(args.tls_cert, args.tls_key)
        scope = st.parse_roots(args.directories, args.any_directory)
    except st.SettingsError as exc:
        _error(str(exc))
        return EXIT_USAGE
    location = _ready_store(args, scope)
    if isinstance(location, int):
        return location  # the exit code: the store is missing its flag or unreadable
    authorization = st.upstream_authorization(os.environ)
    if authorization is None:
        _warn(
            f"{st.PASSWORD_ENV} is not set: requests are forwarded without credentials. "
            "Anyone who can reach opencode directly bypasses the tokens; start opencode "
            f"with {st.PASSWORD_ENV} set, on loopback, and give the gateway the same value."
        )
    if not listen.loopback and tls is None:
        _loud_cleartext_warning(listen)

    from core.gateway.proxy import Gateway
    from core.gateway.server import Listener

    config = st.GatewayConfig(
        upstream=upstream,
        authorization=authorization,
        timeouts=st.Timeouts(connect=args.connect_timeout, read=args.upstream_timeout),
        limits=_limits(args, args.client_timeout),
        tls=tls is not None,
        scope=scope,
    )
    guard, usage = _components(args, location, "gateway")
    service = Gateway(config, guard, usage)
    access = _open_access_log(args)
    if access is False:
        return EXIT_USAGE
    listener = Listener(
        service, listen, limits=config.limits, ssl_context=tls, access_log=access, warn=_warn
    )

    def ready() -> None:
        _say(
            f"{PROG} gateway: listening on {listener.url} -> {upstream} (store: {_shown(location)})"
        )

    async def main() -> int:
        async def announce() -> None:
            ready()

        return await _serve(listener, announce, "gateway")

    return _run(main, listen, access)


def run_forward_auth(args: argparse.Namespace) -> int:
    if not aiohttp_available():
        _error(INSTALL_HINT)
        return EXIT_USAGE
    try:
        listen = st.parse_listen(args.listen)
        upstream = st.parse_upstream(args.upstream)
        scope = st.parse_roots(args.directories, args.any_directory)
    except st.SettingsError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if scope.roots is None and not scope.any_directory:
        _error(
            "forward-auth needs the directories opencode may be asked to work in: "
            "--directory PATH (repeatable), or --any-directory to allow every one"
        )
        return EXIT_USAGE
    if not listen.loopback and not args.allow_non_loopback:
        _error(
            f"refusing to listen on {args.listen}: forward-auth trusts the "
            "X-Original-*/X-Forwarded-* headers, so only the proxy may reach it; listen on "
            "127.0.0.1 (or pass --allow-non-loopback if a firewall already ensures that)"
        )
        return EXIT_USAGE
    location = _ready_store(args, scope)
    if isinstance(location, int):
        return location  # the exit code: the store is missing its flag or unreadable

    from core.gateway.forward_auth import CANNOT_REVOKE_OPEN, ForwardAuth
    from core.gateway.server import Listener

    guard, usage = _components(args, location, "forward-auth")
    access = _open_access_log(args)
    if access is False:
        return EXIT_USAGE
    service = ForwardAuth(
        guard,
        usage,
        upstream=upstream,
        authorization=st.upstream_authorization(os.environ),
        scope=scope,
    )
    listener = Listener(service, listen, limits=_limits(args), access_log=access, warn=_warn)

    async def main() -> int:
        async def ready() -> None:
            _say(f"{PROG} forward-auth: listening on {listener.url} (store: {_shown(location)})")
            _say(f"{PROG} forward-auth: note: {CANNOT_REVOKE_OPEN}")

        return await _serve(listener, ready, "forward-auth")

    return _run(main, listen, access)


def _loud_any_directory_warning() -> None:
    bar = "!" * 72
    _warn(bar)
    _warn("--any-directory: opencode may be asked to work in ANY directory. Every")
    _warn("request naming one makes opencode load that folder's configuration, and")
    _warn("a read token can then list and read the files of any folder this user")
    _warn("can read. Prefer --directory PATH for each project you serve.")
    _warn(bar)


def _loud_cleartext_warning(listen: st.ListenAddress) -> None:
    bar = "!" * 72
    _warn(bar)
    _warn(f"listening on {listen.host}, which is NOT a loopback address, WITHOUT TLS.")
    _warn("Tokens and everything opencode sends (files, shell output) cross the")
    _warn("network in clear text. Use --tls-cert/--tls-key, or put a TLS proxy in")
    _warn("front and listen on 127.0.0.1.")
    _warn(bar)


async def _serve(
    listener: Listener, ready: Callable[[], Coroutine[Any, Any, None]], name: str
) -> int:
    import asyncio

    from core.gateway.server import serve_until_signal

    tasks: set[asyncio.Task[None]] = set()

    def on_ready() -> None:
        task = asyncio.ensure_future(ready())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return await serve_until_signal(
        listener, lambda line: _say(f"{PROG} {name}: {line}"), ready=on_ready
    )


def _run(
    main: Callable[[], Coroutine[Any, Any, int]],
    listen: st.ListenAddress,
    access: BufferedLog | None,
) -> int:
    import asyncio

    try:
        return asyncio.run(main())
    except OSError as exc:
        _error(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 1
    finally:
        if access is not None:  # the last batch, however the server stopped
            access.close()
