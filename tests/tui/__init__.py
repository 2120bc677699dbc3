"""Pilot tests of the Textual TUI."""
