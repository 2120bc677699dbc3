"""`python -m core` is the same CLI as the `opencode-auth-tui` console script."""

import sys

from core.cli import run

sys.exit(run())
