"""Pairing a device from the TUI: a token for it, and a one-time link that signs its
browser in - the steps of the CLI's `pair` (core.cli.pair), run in a thread worker.

The token's secret is dropped the moment the token exists: the device gets a
browser session through the link, never the token. If the link cannot be made,
the token is deleted again, so no token is left behind without its link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.model.errors import AuthTuiError
from core.model.permissions import Permission
from core.model.records import PairingRecord, TokenRecord
from core.present import pairing_link
from core.store import Store

NAME_STEM = "device"
"""A device's token is called `device-N` unless named (as by `pair`)."""
DEFAULT_EXPIRY = "30d"
"""A device's token lasts 30 days unless told otherwise (as by `pair`)."""


@dataclass(frozen=True)
class PairingLink:
    """A one-time link for `record`'s token, valid until `pairing.expires_at`.

    `link` holds the code: whoever opens it first, within 5 minutes, is signed
    in as the token. It is shown (and copied) on purpose, once, like a secret.
    `base` is the gateway's address it starts with.
    """

    record: TokenRecord
    pairing: PairingRecord
    link: str
    base: str

    def __repr__(self) -> str:  # the code stays out of logs and tracebacks
        return f"PairingLink({self.record.id!r}, expires_at={self.pairing.expires_at!r})"


def pair_device(
    store: Store,
    base: str,
    *,
    name: str | None,
    permissions: Sequence[Permission],
    expires: str,
    note: str | None,
    directories: Sequence[str],
) -> PairingLink:
    """Create the device's token and its link (`base`: the gateway, checked with
    `core.present.gateway_base`). Raises core's errors; nothing is left behind."""
    issued = store.create(
        name=name,
        permissions=permissions,
        expires=expires,
        note=note,
        directories=directories,
        name_stem=NAME_STEM,
    )
    record = issued.record
    del issued  # the secret: never shown, never kept
    try:
        return new_link(store, base, record)
    except AuthTuiError:
        store.delete([record.id])
        raise


def new_link(store: Store, base: str, record: TokenRecord) -> PairingLink:
    """Another one-time link for an existing token (the first one expired unused)."""
    pairing = store.create_pairing(record.id)
    return PairingLink(record, pairing.record, pairing_link(base, pairing.code.reveal()), base)
