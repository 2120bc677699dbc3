"""A mistyped `--store` never becomes a new store in new folders: a file whose
folder does not exist is refused (exit 2, one line that says how to make it),
except in the default location; and the first time a command makes the store
file, it says where."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, assert_one_line_error

COMMANDS = [
    ["token", "create", "--quiet"],
    ["token", "create", "ci", "--preset", "watch"],
    ["token", "list"],
    ["token", "show", "x"],
    ["token", "delete", "x", "--yes"],
    ["token", "check", "GET", "/file"],
    ["session", "list"],
    ["pair", "--url", "https://gw.example:4097"],
    ["export"],
    ["gateway", "--any-directory"],
    ["forward-auth", "--any-directory"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_store_in_a_missing_folder_is_refused_and_nothing_made(
    cli: Cli, tmp_path: Path, command: list[str], where: str
) -> None:
    typo = tmp_path / "nonexistent" / "dir" / "x.json"
    args = (
        ["--store", str(typo), *command] if where == "before" else [*command, "--store", str(typo)]
    )
    result = cli(*args, stdin="ocat_x\n")
    assert_one_line_error(result, 2, f"--store {typo}: the folder {typo.parent} does not exist")
    assert f"mkdir -p -m 700 '{typo.parent}'" in result.err
    assert not (tmp_path / "nonexistent").exists()
    assert result.out == ""


def test_a_store_under_a_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("--store", str(blocker / "x.json"), "token", "create")
    assert_one_line_error(result, 2, f"{blocker} is not a folder")
    assert blocker.read_text() == "not a folder"


def test_the_advice_works(cli: Cli, tmp_path: Path) -> None:
    typo = tmp_path / "new" / "x.json"
    assert cli("--store", str(typo), "token", "create", "--quiet").code == 2
    os.makedirs(typo.parent, mode=0o700)
    created = cli("--store", str(typo), "token", "create", "--quiet")
    assert created.code == 0, created.err
    assert typo.exists()


def test_export_to_a_missing_folder_is_refused(cli: Cli, tmp_path: Path) -> None:
    assert cli("token", "create", "a", "--quiet").code == 0
    typo = tmp_path / "nowhere" / "copy.json"
    result = cli("export", "--to", str(typo))
    assert_one_line_error(result, 2, f"export --to {typo}: the folder {typo.parent} does not")
    assert not typo.parent.exists()


def test_the_default_location_is_made_with_its_folders(cli: Cli) -> None:
    """No --store and no environment: ~/.config/opencode is made (0700), and the
    first create says where the store is."""
    env = {"OPENCODE_AUTH_TOKENS_FILE": ""}
    default = Path(cli.env["XDG_CONFIG_HOME"]) / "opencode" / "auth-tokens.json"
    assert not default.parent.exists()
    first = cli("token", "create", "first", "--quiet", env=env)
    assert first.code == 0, first.err
    assert first.err_lines[-1] == f"Created the token store {default}."
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700
    again = cli("token", "create", "second", "--quiet", env=env)
    assert again.code == 0 and "Created the token store" not in again.err


def test_store_naming_the_default_location_may_make_its_folder(cli: Cli) -> None:
    default = Path(cli.env["XDG_CONFIG_HOME"]) / "opencode" / "auth-tokens.json"
    result = cli("--store", str(default), "token", "create", "--quiet")
    assert result.code == 0, result.err
    assert default.exists()


def test_the_environments_file_is_made_and_said(cli: Cli) -> None:
    assert not cli.store.parent.exists()
    result = cli("token", "create", "a")
    assert result.code == 0, result.err
    assert f"Created the token store {cli.store}." in result.err_lines
    assert "Created the token store" not in cli("token", "create", "b").err


@pytest.mark.parametrize("json_output", [False, True])
def test_pair_says_it_made_the_store(cli: Cli, json_output: bool) -> None:
    extra = ["--json"] if json_output else []
    result = cli("pair", "--url", "https://gw.example:4097", *extra)
    assert result.code == 0, result.err
    assert f"Created the token store {cli.store}." in result.err_lines


def test_nothing_is_said_when_nothing_was_made(cli: Cli) -> None:
    """A refused create leaves no file, and says nothing of one."""
    result = cli("token", "create", "--expires", "0d")
    assert result.code == 2
    assert "Created the token store" not in result.err
    assert cli.bytes() is None


def test_the_tui_is_not_opened_on_a_store_in_a_missing_folder(cli: Cli, tmp_path: Path) -> None:
    typo = tmp_path / "nonexistent" / "x.json"
    result = cli("--store", str(typo), with_tui=True, stdin_tty=True, stdout_tty=True)
    assert_one_line_error(result, 2, "does not exist")
    assert cli.opened == []
    assert not typo.parent.exists()
