"""Whether the optional `[gateway]` extra (aiohttp) is installed, and what to
install if not.

Here rather than in the CLI because only core.gateway may import aiohttp (an
import-linter contract); the probe imports it for real, so a broken install is
found here too, not halfway through starting a server.
"""

from __future__ import annotations

INSTALL_HINT = (
    "the gateway needs aiohttp: pip install 'opencode-auth-tui[gateway]' "
    "(from a clone of the repository: pip install '.[gateway]')"
)


def aiohttp_available() -> bool:
    try:
        import aiohttp  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return True
