"""`--store`: before or after the command, and never an empty value taken to mean
the default store."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli, assert_one_line_error


def test_an_empty_store_flag_never_means_the_default_store(cli: Cli) -> None:
    env = {"OPENCODE_AUTH_TOKENS_FILE": ""}  # as `--store "$UNSET"` in a script
    for args in (
        ["token", "create", "--name", "x"],
        ["token", "list"],
        ["migrate", "--to", "postgresql://h/db"],
        ["db", "init"],
        ["gateway"],
    ):
        result = cli("--store", "", *args, env=env)
        assert_one_line_error(result, 2, "--store is empty")
    default = Path(cli.env["HOME"]) / ".config" / "opencode" / "auth-tokens.json"
    assert not default.exists() and not cli.store.exists()


def test_store_after_the_gateway_commands_is_accepted(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    broken.chmod(0o600)
    for command in (["gateway"], ["forward-auth", "--any-directory"]):
        result = cli(*command, "--store", str(broken), "--listen", "127.0.0.1:0")
        assert_one_line_error(result, 3, str(broken))  # the store named after the command


def test_a_database_url_with_a_password_is_refused_before_connecting(cli: Cli) -> None:
    result = cli("--store", "postgresql://u:secret@127.0.0.1:1/db", "token", "list")
    assert_one_line_error(result, 2, "password")
    assert "secret" not in result.err
