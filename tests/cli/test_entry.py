"""How the command starts, in-process: help for every command, `--version`, and
when the TUI opens (only with a launcher, only on a terminal, on the given store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import __version__
from tests.cli.conftest import Cli, assert_one_line_error

COMMANDS = [
    [],
    ["tui"],
    ["token"],
    *(["token", action] for action in ("create", "edit", "list", "show", "delete")),
    *(["token", action] for action in ("rotate", "prune", "check")),
    ["revoke"],
    ["session", "list"],
    ["pair"],
    ["policy"],
    ["migrate"],
    ["export"],
    ["db"],
    ["db", "init"],
    ["db", "upgrade"],
    ["schema"],
    ["gateway"],
    ["forward-auth"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "(none)")
def test_every_command_has_help_on_stdout(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0 and result.err == ""
    assert result.out.startswith(f"usage: opencode-auth-tui {' '.join(command)}".rstrip())
    if command in (["policy"], ["schema"]):  # they never open a store: no --store offered
        assert "--store" not in result.out
    else:
        assert "--store" in result.out or command in (["token"], ["db"])


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.code == 0 and result.out == f"opencode-auth-tui {__version__}\n"


def test_the_main_help_lists_the_commands_and_exit_codes(cli: Cli) -> None:
    out = cli("--help").out
    for word in ("tui", "token", "policy", "migrate", "export", "db", "schema", "gateway"):
        assert f"\n    {word} " in out
    assert "Exit codes: 0 ok, 1 not found or denied, 2 usage or input error, 3 store" in out


@pytest.mark.parametrize("group", ["token", "db"])
def test_a_group_without_its_action_shows_its_help_and_exits_2(cli: Cli, group: str) -> None:
    result = cli(group)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"usage: opencode-auth-tui {group} [-h] ACTION")


def test_no_command_opens_the_tui_only_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "tokens.json"
    other.parent.mkdir()
    assert cli("--store", str(other), "token", "create", "--quiet").code == 0
    piped = cli("--store", str(other), with_tui=True, stdin_tty=True)  # stdout is a pipe
    assert piped.code == 2 and "usage: opencode-auth-tui" in piped.err
    assert cli.opened == []
    shown = cli("--store", str(other), with_tui=True, stdin_tty=True, stdout_tty=True)
    assert shown.code == 0 and shown.out == shown.err == ""
    [store] = cli.opened
    assert store.location == str(other)  # the store given, not the default one


def test_tui_needs_a_terminal_and_the_console_script(cli: Cli) -> None:
    assert_one_line_error(cli("tui", with_tui=True), 2, "interactive terminal")
    result = cli("tui", stdin_tty=True, stdout_tty=True)  # as `python -m core tui`
    assert_one_line_error(result, 2, "not `python -m core`")
    assert cli.opened == []
    assert cli("tui", with_tui=True, stdin_tty=True, stdout_tty=True).code == 0
    assert len(cli.opened) == 1


def test_an_internal_error_is_one_line_unless_debugging(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store.file.engine import TokenStore

    def broken(self: TokenStore) -> None:
        raise RuntimeError("boom \x1b[2J")

    monkeypatch.setattr(TokenStore, "load", broken)
    result = cli("token", "list")
    assert_one_line_error(result, 70, "internal error (RuntimeError: boom \\x1b[2J)")
    assert "OPENCODE_AUTH_TUI_DEBUG=1" in result.err
    with pytest.raises(RuntimeError):
        cli("token", "list", env={"OPENCODE_AUTH_TUI_DEBUG": "1"})


def test_ctrl_c_exits_130_with_a_clean_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.store.file.engine import TokenStore

    def interrupted(self: TokenStore) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TokenStore, "load", interrupted)
    result = cli("token", "list")
    assert (result.code, result.out, result.err) == (130, "", "\n")
