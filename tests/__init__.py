"""Tests (package so modules import as tests.<folder>.<module>)."""
