"""Snapshot tests of every TUI screen (pytest-textual-snapshot)."""
