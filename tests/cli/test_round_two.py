"""What a first-time user tripped on in the CLI (issue 10): each refusal is one line
with the right exit code and leaves the store as it was; each message reads right."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.cli.conftest import Cli

TOKEN = "ocat_3VDgZazynFNLblzzVqH0Fe0iZcj9"  # well-formed, in no store


def one_line(result, code: int, text: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == code, (result.code, result.out, result.err)
    assert len(result.err_lines) == 1, result.err
    assert text in result.err, result.err
    assert "Traceback" not in result.err


def test_an_empty_store_flag_never_means_the_default_store(cli: Cli) -> None:
    env = {"OPENCODE_AUTH_TOKENS_FILE": ""}  # as `--store "$UNSET"` in a script
    for args in (["token", "create", "--name", "x"], ["token", "list"], ["gateway"]):
        result = cli("--store", "", *args, env=env)
        one_line(result, 2, "--store is empty")
    default = Path(cli.env["HOME"]) / ".config" / "opencode" / "auth-tokens.json"
    assert not default.exists() and not cli.store.exists()


def test_a_token_given_to_check_on_the_command_line_is_not_echoed(cli: Cli) -> None:
    result = cli("token", "check", "GET", f"/file?x={TOKEN}", stdin="")
    one_line(result, 2, "reads the token from stdin")
    assert TOKEN not in result.err + result.out
    result = cli("token", "check", TOKEN, "/file", stdin="")
    assert result.code == 2 and TOKEN not in result.err + result.out


def test_an_execute_only_token_is_created_with_a_warning(cli: Cli) -> None:
    result = cli("token", "create", "--name", "x", "--permissions", "execute", "--quiet")
    assert result.code == 0
    assert "can pass no request" in result.err
    edited = cli("token", "edit", "x", "--permissions", "read,execute")
    assert edited.code == 0 and "can pass no request" not in edited.err
    back = cli("token", "edit", "x", "--permissions", "execute")
    assert "can pass no request" in back.err


def test_store_after_the_gateway_commands_is_accepted(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    broken.chmod(0o600)
    for command in (["gateway"], ["forward-auth", "--any-directory"]):
        result = cli(*command, "--store", str(broken), "--listen", "127.0.0.1:0")
        assert result.code == 3, result.err  # the store named after the command was read
        assert str(broken) in result.err


def test_a_read_only_store_is_refused_not_rewritten(cli: Cli) -> None:
    cli("token", "create", "--name", "a")
    cli.store.chmod(0o400)
    before = cli.store.read_bytes()
    for args in (
        ["token", "create", "--name", "b"],
        ["token", "delete", "a", "--yes"],
        ["token", "rotate", "a"],
        ["token", "edit", "a", "--note", "n"],
    ):
        result = cli(*args)
        one_line(result, 3, "read-only")
        assert "chmod 600" in result.err
    assert cli.store.read_bytes() == before
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o400
    assert cli("token", "list").code == 0  # still readable


def test_a_folder_as_the_store_gets_no_mode_warning(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    folder.chmod(0o755)
    for args in (["token", "list"], ["token", "create", "--name", "x"]):
        result = cli("--store", str(folder), *args)
        one_line(result, 3, "is a folder")
        assert "mode" not in result.err


def test_the_migrate_hint_has_no_nested_parentheses(cli: Cli) -> None:
    cli.store.parent.mkdir(parents=True, exist_ok=True)
    cli.store.write_text(json.dumps([{"token": "x" * 32, "permissions": ["read"], "createdAt": 0}]))
    cli.store.chmod(0o600)
    result = cli("token", "list")
    one_line(result, 3, "run `opencode-auth-tui migrate` to convert it; a 0600 backup is kept")
    assert "((" not in result.err and "))" not in result.err


def test_a_refused_method_is_said_so(cli: Cli, secret_of) -> None:  # type: ignore[no-untyped-def]
    token = secret_of("--name", "a")
    result = cli("token", "check", "TRACE", "/x", stdin=token)
    assert result.code == 1
    assert "TRACE is not one of the methods opencode serves" in result.out
    assert "needs nothing" not in result.out


def test_a_year_reads_as_a_year_everywhere(cli: Cli) -> None:
    created = cli("token", "create", "--name", "y", "--expires", "1y")
    assert "(in 1 year)" in created.out
    assert "in 1 year" in cli("token", "list").out
    assert "(in 1 year)" in cli("token", "show", "y").out


def test_schema_never_warns_and_check_warns_like_list(cli: Cli, secret_of) -> None:  # type: ignore[no-untyped-def]
    token = secret_of("--name", "a")
    cli.store.chmod(0o644)
    assert cli("schema").err == ""
    listed = cli("token", "list")
    checked = cli("token", "check", "GET", "/path", stdin=token)
    assert "accessible by group or others" in listed.err
    assert "accessible by group or others" in checked.err


def test_a_truncated_file_is_said_to_be_truncated(cli: Cli) -> None:
    cli("token", "create", "--name", "a")
    whole = cli.store.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 5, 12):
        cli.store.write_bytes(whole[:cut])
        result = cli("token", "list")
        one_line(result, 3, "the file is truncated")
        assert "Unterminated" not in result.err


def test_json_output_has_the_new_fields_and_a_field_selection(cli: Cli) -> None:
    cli("token", "create", "--name", "a", "--note", "n", "--directory", "/srv/app")
    full = json.loads(cli("token", "list", "--json").out)[0]
    assert full["note"] == "n" and full["directories"] == ["/srv/app"]
    assert "digest" not in full
    picked = json.loads(cli("token", "list", "--json", "id,name,status").out)
    assert list(picked[0]) == ["id", "name", "status"]
    shown = json.loads(cli("token", "show", "a", "--json", "note,directories").out)
    assert shown == {"note": "n", "directories": ["/srv/app"]}
    result = cli("token", "list", "--json", "id,digest")
    one_line(result, 2, "unknown field digest")
