"""A database store's URL: recognised, refused when it holds a password, and
shown with any secret masked - without importing psycopg (the base install
must be able to say all of this).

A password on the command line lands in the shell history and in `ps` for
every user of the machine, so a URL with one is refused outright; libpq reads
it from `PGPASSWORD`, `~/.pgpass` (`PGPASSFILE`) or a service file
(`postgresql:///db?service=NAME`, `PGSERVICE`, `~/.pg_service.conf`) instead.
Every other connection parameter (`sslmode`, `sslrootcert`, `sslcert`,
`target_session_attrs`, ...) passes through to libpq as written.
"""

from __future__ import annotations

from urllib.parse import unquote

from core.model.errors import StoreLocationInvalid
from core.model.text import escape_controls

SCHEMES = ("postgresql://", "postgres://")
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
"""Query parameters that hold a credential (libpq's names)."""
MASK = "***"
CREDENTIAL_HELP = (
    "give the password with PGPASSWORD, ~/.pgpass (or PGPASSFILE) or a service file "
    "(postgresql:///DB?service=NAME, or PGSERVICE)"
)


def is_database_url(text: str) -> bool:
    """`postgresql://...` or `postgres://...` (any case): a database, not a file path."""
    return text.strip().lower().startswith(SCHEMES)


def _split(url: str) -> tuple[str, str, str, str, str]:
    """(scheme://, userinfo, hosts, path, ?query#fragment) - libpq's URI layout,
    where the userinfo ends at the last `@` of the authority."""
    scheme, sep, rest = url.partition("://")
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hosts = authority.rpartition("@")
    path_end = len(tail)
    for stop in "?#":
        found = tail.find(stop)
        if found != -1:
            path_end = min(path_end, found)
    return scheme + sep, userinfo + at, hosts, tail[:path_end], tail[path_end:]


def _query_secret(query: str) -> bool:
    body = query.removeprefix("?").partition("#")[0]
    return any(
        unquote(item.partition("=")[0]).strip() in SECRET_PARAMETERS
        for item in body.split("&")
        if item
    )


def has_password(url: str) -> bool:
    """The URL carries a credential: `user:password@` (even an empty one) or a
    `password=` / `sslpassword=` parameter."""
    _, userinfo, _, _, query = _split(url)
    return ":" in userinfo or _query_secret(query)


def mask_url(url: str) -> str:
    """The URL as it may be shown anywhere (messages, headers, logs): a password in
    the user part or in a parameter replaced by `***`, control characters escaped."""
    scheme, userinfo, hosts, path, query = _split(url)
    if ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":" + MASK + "@"
    if query:
        body, hash_, fragment = query.removeprefix("?").partition("#")
        items = []
        for item in body.split("&"):
            key, eq, _ = item.partition("=")
            items.append(
                f"{key}={MASK}" if eq and unquote(key).strip() in SECRET_PARAMETERS else item
            )
        query = "?" + "&".join(items) + hash_ + fragment
    return escape_controls(scheme + userinfo + hosts + path + query)


def check_url(url: str) -> str:
    """The URL to connect with, or StoreLocationInvalid (exit 2) saying why not.

    libpq parses the rest when the engine connects (a malformed URL is refused
    then, also before any connection is tried).
    """
    text = url.strip()
    if not is_database_url(text):
        raise StoreLocationInvalid(f"{mask_url(text)} is not a database URL (postgresql://...)")
    if any(ch.isspace() for ch in text):
        raise StoreLocationInvalid(
            f"the store URL {mask_url(text)} contains white space; percent-encode it (%20)"
        )
    if has_password(text):
        raise StoreLocationInvalid(
            f"the store URL {mask_url(text)} contains a password, which would show in the "
            f"process list and the shell history: remove it and {CREDENTIAL_HELP}"
        )
    return text
