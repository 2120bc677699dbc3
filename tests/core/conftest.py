"""Fixtures for the core tests: a store in a temporary folder, a fixed clock and a
seeded secret source, so every test is deterministic and never touches ~/.config."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import TokenStore
from tests.core.core_helpers import FakeClock, SeededBytes


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read or write the real ~/.config: HOME points into tmp_path and
    the variables that choose the store are cleared."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("OPENCODE_AUTH_TOKENS_FILE", raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def token_bytes() -> SeededBytes:
    return SeededBytes()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "opencode" / "auth-tokens.json"


@pytest.fixture
def store(store_path: Path, clock: FakeClock, token_bytes: SeededBytes) -> TokenStore:
    return TokenStore(store_path, clock=clock, token_bytes=token_bytes, lock_timeout=5.0)
