"""The `opencode-auth-tui` console script: core's headless CLI, plus the TUI.

`core` never imports the UI, so the one command that can open it starts here: this
module hands core's CLI a launcher for the `tui` command (and for a bare
`opencode-auth-tui` on a terminal). Textual is imported only when the TUI is
actually opened, so every headless command stays as light as `python -m core`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core import cli

if TYPE_CHECKING:
    from core.store import Store


def launch_tui(store: Store) -> int:
    from tui.app import run_tui

    return run_tui(store)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(argv, launch_tui=launch_tui)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
