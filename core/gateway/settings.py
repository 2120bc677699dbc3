"""What the gateway and forward-auth are told to do: addresses, limits, credentials.

Pure and free of aiohttp, so the CLI can validate every flag (and fail with a
one-line message, exit 2) before the optional dependency is even imported.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.model.errors import InputError

if TYPE_CHECKING:
    import ssl  # imported for real only when TLS is configured (start-up cost)

PASSWORD_ENV = "OPENCODE_SERVER_PASSWORD"  # noqa: S105 - the name of a variable
USERNAME_ENV = "OPENCODE_SERVER_USERNAME"
DEFAULT_USERNAME = "opencode"

DEFAULT_UPSTREAM = "http://127.0.0.1:4096"
DEFAULT_GATEWAY_LISTEN = "127.0.0.1:4097"
DEFAULT_FORWARD_AUTH_LISTEN = "127.0.0.1:4098"


class SettingsError(InputError):
    """A flag or environment value the gateway cannot work with (exit code 2)."""


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def url(self, *, tls: bool = False) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if tls else 'http'}://{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_listen(text: str) -> ListenAddress:
    """`HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (meaning 127.0.0.1)."""
    value = text.strip()
    if value.isdigit():
        host, port_text = "127.0.0.1", value
    elif value.startswith("["):
        host, sep, port_text = value[1:].partition("]:")
        if not sep:
            raise SettingsError(f"--listen {text!r}: write an IPv6 address as [ADDR]:PORT")
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or ":" in host:
            raise SettingsError(
                f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:4097 or [::1]:4097"
            )
    if not host:
        raise SettingsError(
            f"--listen {text!r}: the host is empty; name one (0.0.0.0 for every interface)"
        )
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise SettingsError(f"--listen {text!r}: the port must be a number from 0 to 65535")
    return ListenAddress(host, int(port_text))


def is_loopback(host: str) -> bool:
    """True only if every address `host` stands for is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def parse_upstream(text: str) -> str:
    """An `http(s)://host[:port][/prefix]` base URL, without a trailing slash."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"--upstream {text!r}: expected an http:// or https:// URL, e.g. http://127.0.0.1:4096"
        )
    if parts.username is not None or parts.password is not None:
        raise SettingsError(
            f"--upstream: put no credentials in the URL; set {PASSWORD_ENV} "
            f"(and {USERNAME_ENV}) in the environment instead"
        )
    if parts.query or parts.fragment:
        raise SettingsError(f"--upstream {text!r}: a base URL has no query or fragment")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise SettingsError(f"--upstream {text!r}: the port is not a valid number") from None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def upstream_authorization(environ: Mapping[str, str]) -> str | None:
    """The Basic `Authorization` value for opencode, from the environment only.

    None when `OPENCODE_SERVER_PASSWORD` is unset or empty: opencode then runs
    without a password and requests are forwarded without credentials.
    """
    password = environ.get(PASSWORD_ENV, "")
    if not password:
        return None
    username = environ.get(USERNAME_ENV, "") or DEFAULT_USERNAME
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Limits:
    """Protection against slow or abusive clients (seconds and bytes)."""

    header_timeout: float = 10.0
    """A request head must arrive within this long of the connection opening or of
    the previous response (also how long an idle keep-alive connection stays)."""
    client_timeout: float = 60.0
    """Longest wait for the next piece of a request body, or for the client to
    take the next piece of a response."""
    max_line_size: int = 8190
    max_field_size: int = 8190
    max_headers: int = 100
    max_connections: int = 512
    max_connections_per_client: int = 64
    """Open connections one client address may hold (0: no share)."""
    shutdown_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the gateway waits for opencode (0 = no limit)."""

    connect: float = 5.0
    read: float = 300.0
    """Waiting for the response head, and between two pieces of a streamed body.
    Long by default: opencode answers some prompt requests only when the model is done."""


def positive_seconds(name: str, value: float, *, zero_ok: bool = False) -> float:
    if value != value or value < 0 or (value == 0 and not zero_ok) or value > 86_400:
        allowed = "0 (no limit) or " if zero_ok else ""
        raise SettingsError(f"{name}: expected {allowed}a number of seconds up to 86400")
    return value


DEFAULT_LIMITS = Limits()
DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class ScopeSettings:
    """Which directories a server serves: `--directory` values (None: opencode's
    own directory, learned at start), or every directory (`--any-directory`)."""

    roots: tuple[str, ...] | None = None
    any_directory: bool = False


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    upstream: str
    authorization: str | None
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    limits: Limits = DEFAULT_LIMITS
    tls: bool = False
    websocket_heartbeat: float = 30.0
    scope: ScopeSettings = ScopeSettings()


def parse_roots(values: list[str] | None, any_directory: bool) -> ScopeSettings:
    """`--directory` (repeatable, absolute after `~` expansion) or `--any-directory`."""
    import os

    from core.model.directories import BadDirectory, normalize_directory

    if values and any_directory:
        raise SettingsError("--directory and --any-directory exclude each other: give one")
    if any_directory:
        return ScopeSettings(None, True)
    if not values:
        return ScopeSettings(None, False)
    roots: dict[str, None] = {}
    for value in values:
        expanded = os.path.expanduser(value.strip())
        if not expanded.startswith("/"):
            raise SettingsError(f"--directory {value!r}: give an absolute path")
        try:
            roots[normalize_directory(os.path.normpath(expanded))] = None
        except BadDirectory as exc:
            raise SettingsError(f"--directory: {exc}") from None
    return ScopeSettings(tuple(roots), False)


def server_ssl_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """TLS for the listening side, or None. Both files or neither."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SettingsError("--tls-cert and --tls-key go together: give both or neither")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        detail = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise SettingsError(f"--tls-cert/--tls-key: cannot load {cert} / {key}: {detail}") from None
    return context
