"""Where the store file lives.

First match wins: `--store PATH`, `$OPENCODE_AUTH_TOKENS_FILE`,
`$XDG_CONFIG_HOME/opencode/auth-tokens.json`, `~/.config/opencode/auth-tokens.json`.

opencode resolves its config folder the XDG way on every OS (never
`~/Library/Application Support` on macOS), so platformdirs' *Unix* rules are used
everywhere, which also ignore a relative `$XDG_CONFIG_HOME` as the XDG spec says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from platformdirs.unix import Unix

ENV_VAR = "OPENCODE_AUTH_TOKENS_FILE"
FILE_NAME = "auth-tokens.json"


def default_store_path() -> Path:
    return Unix(appname="opencode").user_config_path / FILE_NAME


def resolve_store_path(flag: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    for candidate in (flag, env.get(ENV_VAR)):
        if candidate is not None and candidate.strip():
            return Path(candidate).expanduser().absolute()
    return default_store_path()
