"""`gateway` and `forward-auth`: their flags and `--help` (the servers start in serve.py).

This module and serve.py import no aiohttp, so every command can build the
whole parser on the base install; flags are validated before anything starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.cli.command import Command, add_store_flag, set_handler
from core.cli.output import PROG
from core.cli.serve import ForwardAuthOptions, GatewayOptions, run_forward_auth, run_gateway
from core.gateway import settings as st

if TYPE_CHECKING:
    from core.cli.command import Subcommands


def _seconds_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    default: float,
    help_text: str,
    zero_ok: bool = False,
    zero_means: str | None = None,
) -> None:
    """A `--...-timeout SECONDS` flag, the one way they are all made: a number up
    to a day, 0 only where it means something (`zero_means`, said in the help, or
    `zero_ok`), the default in the help."""
    zero_allowed = zero_ok or zero_means is not None

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        try:
            return st.positive_seconds(flag, value, zero_ok=zero_allowed)
        except st.SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    zero = f"; 0 = {zero_means}" if zero_means else ""
    parser.add_argument(
        flag,
        metavar="SECONDS",
        type=seconds,
        default=default,
        help=f"{help_text} (default {default:g}{zero})",
    )


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}")
        return int(text)

    return parse


# --- help ---------------------------------------------------------------------------

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
that nginx can answer with it instead of its own HTML page (see docs/nginx-and-caddy.md).

Those headers are trusted, so only the proxy may reach this service: it listens
on loopback and refuses any other address unless --allow-non-loopback is given.

An allowed answer also carries X-Auth-Content-Security-Policy,
X-Auth-Content-Type-Options and X-Auth-Content-Disposition: the proxy adds them
to opencode's answer (without the X-Auth- prefix) so that a project's files
never run as pages of its origin (see the configs in docs/nginx-and-caddy.md).

Revocation and open connections: a deleted, rotated or expired token is refused
on its next request, but forward-auth never sees a connection again after the
proxy's auth subrequest, so an event stream or terminal opened through the
proxy stays open until it closes. The gateway (which relays connections itself)
closes them within a second; nginx ends them on `nginx -s reload` with
`worker_shutdown_timeout` set (see docs/nginx-and-caddy.md).
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
    _seconds_flag(
        parser,
        "--header-timeout",
        default=st.DEFAULT_LIMITS.header_timeout,
        help_text="a request head must arrive within this long of the connection opening or "
        "of the previous response; also how long an idle keep-alive connection is kept",
    )
    parser.add_argument(
        "--max-header-size",
        metavar="BYTES",
        type=_count(256, 1 << 20),
        default=st.DEFAULT_LIMITS.max_field_size,
        help="longest request line and longest single header accepted; longer ones are "
        f"answered 400 (default {st.DEFAULT_LIMITS.max_field_size})",
    )
    parser.add_argument(
        "--max-headers",
        metavar="N",
        type=_count(8, 10_000),
        default=st.DEFAULT_LIMITS.max_headers,
        help=f"most header lines accepted in one request (default {st.DEFAULT_LIMITS.max_headers})",
    )
    parser.add_argument(
        "--max-connections",
        metavar="N",
        type=_count(1, 1_000_000),
        default=st.DEFAULT_LIMITS.max_connections,
        help="open client connections at most; a newcomer waits up to 0.5 s for room "
        "(an idle connection dropped, or one closing), then is answered 503 and closed "
        f"(default {st.DEFAULT_LIMITS.max_connections})",
    )
    parser.add_argument(
        "--max-connections-per-client",
        metavar="N",
        type=_count(0, 1_000_000),
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
    _seconds_flag(
        parser,
        "--shutdown-timeout",
        default=st.DEFAULT_LIMITS.shutdown_timeout,
        zero_ok=True,
        help_text="on SIGTERM/SIGINT, how long in-flight requests may take to finish",
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


def register(commands: Subcommands) -> None:
    """Add `gateway` and `forward-auth`, each taking `--store` after its name too."""
    gateway = commands.add_parser(
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
    _seconds_flag(
        gateway,
        "--connect-timeout",
        default=st.DEFAULT_TIMEOUTS.connect,
        zero_means="no limit",
        help_text="longest wait to connect to opencode, then 504",
    )
    _seconds_flag(
        gateway,
        "--upstream-timeout",
        default=st.DEFAULT_TIMEOUTS.read,
        zero_means="no limit",
        help_text="longest wait for opencode's answer, then 504, and between two pieces of "
        "a streamed body, then the response is cut; event streams are exempt",
    )
    _seconds_flag(
        gateway,
        "--client-timeout",
        default=st.DEFAULT_LIMITS.client_timeout,
        zero_ok=True,
        help_text="longest wait for the next piece of a request body (then 408) or for the "
        "client to take the next piece of a response",
    )
    add_store_flag(gateway, default=argparse.SUPPRESS)
    set_handler(gateway, Command(GatewayOptions, run_gateway, long_running=True))

    forward_auth = commands.add_parser(
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
    add_store_flag(forward_auth, default=argparse.SUPPRESS)
    set_handler(forward_auth, Command(ForwardAuthOptions, run_forward_auth, long_running=True))
