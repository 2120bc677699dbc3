"""`pair --url URL`: a token for a device, and a one-time link that signs the
device's browser in as it - printed as a URL and, on a terminal, a QR code.

The device never holds the token: opening the link shows a page with one button
(a plain GET consumes nothing, so a chat app's link preview cannot use it up),
and pressing it makes a browser session of the token (core.store
`consume_pairing`). The link works once, for 5 minutes; only its code's digest
is stored. The token's own secret is never shown, here or anywhere.
"""

from __future__ import annotations

import io
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.cli.command import Command, absolute_directories, add_command
from core.cli.console import Console
from core.cli.exits import EXIT_OK, UsageError
from core.cli.output import PROG, emit_json, note, warn
from core.cli.store_access import open_named, warn_about_mode
from core.cli.token_view import describe_expiry, label
from core.model.errors import AuthTuiError
from core.model.records import PAIRING_LIFETIME
from core.model.text import escape_controls, format_timestamp

if TYPE_CHECKING:
    from core.cli.command import Subcommands

PAIR_PATH = "/_auth/pair"
"""The gateway's pairing page (core.gateway.signin)."""
DEFAULT_EXPIRY = "30d"
QR_ERROR_LEVEL = "m"
"""Error correction M (15%): a code on a screen, photographed by a phone."""
_URL_FORM = "give the gateway's address as http(s)://HOST[:PORT], e.g. https://myhost:4097"


def gateway_base(url: str) -> str:
    """`url` as the base of a pairing link: `http(s)://host[:port]` and nothing
    else (the pages live at the origin's root, as the `__Host-` cookie must), or
    a UsageError that says what is wrong, in one line."""
    text = url.strip()
    shown = escape_controls(text[:80])
    if not text:
        raise UsageError(f"--url is empty: {_URL_FORM}")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise UsageError(f"--url '{shown}' holds spaces or control characters: {_URL_FORM}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url '{shown}' is not an http:// or https:// URL: {_URL_FORM}")
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"--url must not hold a user name or password: {_URL_FORM}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"--url '{shown}' has a path, query or fragment; the sign-in pages live at the "
            f"gateway's root: {_URL_FORM}"
        )
    if not parts.hostname:
        raise UsageError(f"--url '{shown}' has no host: {_URL_FORM}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"--url '{shown}': the port is not a number from 1 to 65535")
    return f"{scheme}://{parts.netloc}"


def _is_loopback(base: str) -> bool:
    host = urlsplit(base).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def qr_text(link: str) -> str:
    """The link as a QR code in text: two rows per line in half blocks (segno's
    compact terminal output, light on dark, with the 4-module quiet zone)."""
    import segno  # only `pair` needs it

    out = io.StringIO()
    segno.make(link, error=QR_ERROR_LEVEL, micro=False).terminal(out=out, compact=True)
    return out.getvalue()


@dataclass(frozen=True)
class PairOptions:
    store: str | None
    url: str
    name: str | None
    permissions: str | None
    expires: str
    directories: list[str] | None
    json: bool
    qr: bool


def pair(options: PairOptions, console: Console) -> int:
    base = gateway_base(options.url)  # refused before anything is created
    store = open_named(options.store)
    warn_about_mode(store, console)
    issued = store.create(
        name=options.name,
        permissions=options.permissions,
        expires=options.expires,
        directories=absolute_directories(options.directories) or (),
        name_stem="device",
    )
    record = issued.record
    del issued  # the token's secret is never shown: the device gets a session
    try:
        pairing = store.create_pairing(record.id)
    except AuthTuiError:
        store.delete([record.id])  # no token left behind without its link
        raise
    link = f"{base}{PAIR_PATH}?code={pairing.code.reveal()}"
    now = store.now()
    if options.json:
        emit_json(
            console,
            {
                "token": record.public_dict(now),
                "link": link,
                "link_expires_at": format_timestamp(pairing.record.expires_at),
            },
        )
        return EXIT_OK
    perms = ", ".join(p.value for p in record.permissions)
    out = console.stdout
    print(f"Created token {label(record)}: {perms}; {describe_expiry(record, now)}", file=out)
    print(file=out)
    print(f"    {link}", file=out)
    print(file=out)
    if console.stdout_isatty or options.qr:
        out.write(qr_text(link))
    minutes = int(PAIRING_LIFETIME.total_seconds() // 60)
    note(
        console,
        f"Open the link on the device, or scan the code: it works once, within {minutes} "
        "minutes. The device never sees the token's secret.",
    )
    note(console, f"End the device's access with: {PROG} token logout {record.id}")
    if base.startswith("http://") and not _is_loopback(base):
        warn(
            console,
            "the link is http://: the code and the session cookie cross the network in "
            "clear text; use https:// beyond this machine",
        )
    return EXIT_OK


def register(commands: Subcommands) -> None:
    p = add_command(
        commands,
        "pair",
        Command(PairOptions, pair),
        "create a token for a device and a one-time link (URL and QR code) that signs its "
        "browser in",
    )
    p.add_argument(
        "--url",
        required=True,
        metavar="URL",
        help="the gateway's address as the device reaches it: http(s)://HOST[:PORT]",
    )
    p.add_argument("--name", help="unique name, 1-64 characters (default: device-N)")
    p.add_argument(
        "--permissions",
        metavar="LIST",
        help="comma-separated subset of read,write,execute (default: all three)",
    )
    p.add_argument(
        "--expires",
        default=DEFAULT_EXPIRY,
        metavar="WHEN",
        help=f"the token's expiry: never, 12h, 30d, 2w, 1y or a date (default: {DEFAULT_EXPIRY})",
    )
    p.add_argument(
        "--directory",
        metavar="PATH",
        action="append",
        dest="directories",
        help="a directory the token may use (repeatable); default: every directory the "
        "server serves",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object: the token's record and link"
    )
    p.add_argument(
        "--qr",
        action="store_true",
        help="print the QR code even when stdout is not a terminal",
    )
