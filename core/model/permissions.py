"""The three permissions a token can hold, and the parser for `--permissions`."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from core.model.errors import InvalidPermissions
from core.model.text import escape_controls


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)
_ORDER = {p: i for i, p in enumerate(Permission)}


EVERY_SET: tuple[tuple[Permission, ...], ...] = (
    (Permission.READ,),
    (Permission.WRITE,),
    (Permission.EXECUTE,),
    (Permission.READ, Permission.WRITE),
    (Permission.READ, Permission.EXECUTE),
    (Permission.WRITE, Permission.EXECUTE),
    (Permission.READ, Permission.WRITE, Permission.EXECUTE),
)
"""Every permission set a token can hold, each in canonical order: what the store's
readers recognise as written by this program."""


def canonical(perms: Iterable[Permission]) -> tuple[Permission, ...]:
    """Deduplicated, in the fixed order read, write, execute (stable output everywhere)."""
    return tuple(sorted(set(perms), key=_ORDER.__getitem__))


def parse_permissions(text: str) -> tuple[Permission, ...]:
    """Parse `read,write,execute` (any case, spaces allowed around commas).

    At least one permission is required; unknown words and empty items are
    rejected with a message that lists the valid ones.
    """
    items = [item.strip().lower() for item in text.split(",")]
    if all(not item for item in items):
        raise InvalidPermissions("permissions: at least one of read, write, execute is required")
    perms: list[Permission] = []
    for item in items:
        if not item:
            raise InvalidPermissions(
                f"permissions: empty item in '{escape_controls(text.strip())}'; use e.g. read,write"
            )
        try:
            perms.append(Permission(item))
        except ValueError:
            raise InvalidPermissions(
                f"permissions: unknown permission '{escape_controls(item)}'; "
                "choose from read, write, execute"
            ) from None
    return canonical(perms)


def passes_nothing(perms: Iterable[Permission]) -> str | None:
    """Why a set of permissions can pass no request at all, or None.

    Every request needs read (GET, HEAD, OPTIONS) or write (POST, PUT, PATCH,
    DELETE) for its method; execute only ever comes on top of one of them.
    """
    held = set(perms)
    if held and Permission.READ not in held and Permission.WRITE not in held:
        return (
            "a token with only execute can pass no request: every request needs read "
            "or write as well (execute is added on top for what runs code)"
        )
    return None
