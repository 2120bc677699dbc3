"""Where the store lives: a file, or a PostgreSQL database.

First match wins:

1. `--store PATH` or `--store postgresql://...` (also `postgres://`),
2. `$OPENCODE_AUTH_TOKENS_URL` (a database URL),
3. `$OPENCODE_AUTH_TOKENS_FILE` (a file path),
4. `$XDG_CONFIG_HOME/opencode/auth-tokens.json`, `~/.config/opencode/auth-tokens.json`.

The URL comes before the file: a team that sets `OPENCODE_AUTH_TOKENS_URL` for
every host means the shared store, whatever file a profile still names. An
empty variable counts as unset.

opencode resolves its config folder the XDG way on every OS (never
`~/Library/Application Support` on macOS), so platformdirs' *Unix* rules are used
everywhere, which also ignore a relative `$XDG_CONFIG_HOME` as the XDG spec says.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from core.model.errors import StoreLocationInvalid
from core.store.pg.url import check_url, is_database_url, mask_url

ENV_VAR = "OPENCODE_AUTH_TOKENS_FILE"
URL_ENV_VAR = "OPENCODE_AUTH_TOKENS_URL"
FILE_NAME = "auth-tokens.json"

_SLASH_SHORT = re.compile(r"postgres(ql)?:/?[^/]", re.IGNORECASE)

StoreLocation = Path | str
"""A store file's absolute path, or a database URL (checked: no password in it)."""


def default_store_path() -> Path:
    # imported here: most commands name their store (--store, a variable) and
    # never need it, and it costs every start a few milliseconds
    from platformdirs.unix import Unix

    return Unix(appname="opencode").user_config_path / FILE_NAME


def resolve_store_path(flag: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The store *file* (ignoring `$OPENCODE_AUTH_TOKENS_URL`): `--store PATH`,
    `$OPENCODE_AUTH_TOKENS_FILE`, the XDG default."""
    env = os.environ if environ is None else environ
    for candidate in (flag, env.get(ENV_VAR)):
        if candidate is not None and candidate.strip():
            return Path(candidate).expanduser().absolute()
    return default_store_path()


def resolve_store(
    flag: str | None = None, environ: Mapping[str, str] | None = None
) -> StoreLocation:
    """The store, file or database, by the order in the module docstring.

    Raises StoreLocationInvalid (exit 2) for a URL with a password in it, a
    database URL in the file variable, or something else in the URL variable.
    """
    env = os.environ if environ is None else environ
    if flag is not None and flag.strip():
        if is_database_url(flag):
            return check_url(flag)
        if _SLASH_SHORT.match(flag.strip()):
            raise StoreLocationInvalid(
                f"--store {mask_url(flag.strip())} looks like a database URL with a slash "
                "missing: postgresql://HOST/DB, or postgresql:///DB for the local socket"
            )
        return resolve_store_path(flag, env)
    url = env.get(URL_ENV_VAR, "")
    if url.strip():
        if not is_database_url(url):
            raise StoreLocationInvalid(
                f"${URL_ENV_VAR} is not a database URL ({mask_url(url.strip())[:80]}): "
                f"give postgresql://..., or put a file's path in ${ENV_VAR}"
            )
        return check_url(url)
    file = env.get(ENV_VAR, "")
    if file.strip() and is_database_url(file):
        raise StoreLocationInvalid(
            f"${ENV_VAR} holds a database URL ({mask_url(file.strip())}): "
            f"put it in ${URL_ENV_VAR} instead"
        )
    return resolve_store_path(None, env)
