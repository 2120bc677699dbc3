"""Where the store lives: --store > $OPENCODE_AUTH_TOKENS_FILE > $XDG_CONFIG_HOME/opencode >
~/.config/opencode (the XDG way on every OS, as opencode itself does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store.location import ENV_VAR, default_store_path, resolve_store_path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"  # HOME points here (conftest)


def test_default_is_dot_config_opencode(home: Path) -> None:
    expected = home / ".config" / "opencode" / "auth-tokens.json"
    assert resolve_store_path() == expected
    assert default_store_path() == expected


def test_xdg_config_home_beats_home(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert resolve_store_path() == tmp_path / "xdg" / "opencode" / "auth-tokens.json"


@pytest.mark.parametrize("value", ["relative/dir", "./xdg", "xdg", "", "   "])
def test_relative_or_blank_xdg_config_home_is_ignored(
    home: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", value)
    assert resolve_store_path() == home / ".config" / "opencode" / "auth-tokens.json"


def test_env_var_beats_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.json"))
    assert ENV_VAR == "OPENCODE_AUTH_TOKENS_FILE"
    assert resolve_store_path() == tmp_path / "env.json"


def test_flag_beats_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.json"))
    assert resolve_store_path(str(tmp_path / "flag.json")) == tmp_path / "flag.json"


def test_an_explicit_environ_mapping_is_used_for_the_env_var(tmp_path: Path) -> None:
    env = {ENV_VAR: str(tmp_path / "mapped.json")}
    assert resolve_store_path(None, env) == tmp_path / "mapped.json"


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_flag_and_env_fall_through(
    home: Path, blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, blank)
    assert resolve_store_path(blank) == home / ".config" / "opencode" / "auth-tokens.json"


def test_flag_and_env_are_expanded_and_made_absolute(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_store_path("~/tokens.json") == home / "tokens.json"
    monkeypatch.chdir(tmp_path)
    assert resolve_store_path("rel/tokens.json") == tmp_path / "rel" / "tokens.json"
    monkeypatch.setenv(ENV_VAR, "~/env-tokens.json")
    assert resolve_store_path() == home / "env-tokens.json"
    assert resolve_store_path().is_absolute()
