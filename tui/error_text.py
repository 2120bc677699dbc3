"""Core's typed errors turned into what the TUI says, in one place."""

from __future__ import annotations

from core.present import one_line

__all__ = ["one_line"]  # `message (hint)`, written once in core.present (the CLI's too)
