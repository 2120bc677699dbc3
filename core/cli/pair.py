"""`pair --url URL`: a token for a device, and a one-time link that signs the
device's browser in as it - printed as a URL and, on a terminal, a QR code.

The device never holds the token: opening the link shows a page with one button
(a plain GET consumes nothing, so a chat app's link preview cannot use it up),
and pressing it makes a browser session of the token (core.store
`consume_pairing`). The link works once, for 5 minutes; only its code's digest
is stored. The token's own secret is never shown, here or anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cli.command import (
    Command,
    absolute_directories,
    add_command,
    add_directory_flag,
    add_permission_flags,
    permissions_given,
    say_directories,
)
from core.cli.console import Console
from core.cli.exits import EXIT_OK, UsageError
from core.cli.output import PROG, emit_json, note, warn
from core.cli.store_access import file_exists, open_named, say_if_created, warn_about_mode
from core.cli.token_view import summary
from core.model.errors import AuthTuiError, InputError
from core.model.records import PAIRING_LIFETIME
from core.model.text import format_timestamp
from core.present import (
    clear_text_beyond_this_machine,
    gateway_base,
    pairing_link,
    qr_text,
)

if TYPE_CHECKING:
    from core.cli.command import Subcommands

DEFAULT_EXPIRY = "30d"


@dataclass(frozen=True)
class PairOptions:
    store: str | None
    url: str
    name: str | None
    permissions: str | None
    preset: str | None
    expires: str
    directories: list[str] | None
    json: bool
    qr: bool


def pair(options: PairOptions, console: Console) -> int:
    try:
        base = gateway_base(options.url)  # refused before anything is created
    except InputError as exc:
        raise UsageError(exc.message) from None
    permissions = permissions_given(options.permissions, options.preset)
    store = open_named(options.store)
    warn_about_mode(store, console)
    existed = file_exists(store)
    issued = store.create(
        name=options.name,
        permissions=permissions,
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
    link = pairing_link(base, pairing.code.reveal())
    now = store.now()
    say_directories(options.directories, record.directories, console)
    say_if_created(store, existed, console)
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
    out = console.stdout
    print(f"Created token {summary(record, now)}", file=out)
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
    if clear_text_beyond_this_machine(base):
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
    add_permission_flags(p, "all three")
    p.add_argument(
        "--expires",
        default=DEFAULT_EXPIRY,
        metavar="WHEN",
        help=f"the token's expiry: never, 12h, 30d, 2w, 1y or a date (default: {DEFAULT_EXPIRY})",
    )
    add_directory_flag(p)
    p.add_argument(
        "--json", action="store_true", help="print one JSON object: the token's record and link"
    )
    p.add_argument(
        "--qr",
        action="store_true",
        help="print the QR code even when stdout is not a terminal",
    )
