"""`token create --note/--directory`, `token edit` (the same secret), and where a
token may work as `list` and `show` say it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli, SecretOf


def test_create_with_a_note_and_directories(cli: Cli, tmp_path: Path) -> None:
    project = tmp_path / "p"
    result = cli(
        "token",
        "create",
        "--name",
        "ci",
        "--note",
        "the CI job",
        "--directory",
        str(project),
        "--directory",
        "~/src/app",
        "--json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["note"] == "the CI job"
    home = cli.env["HOME"]
    assert data["directories"] == [str(project), f"{home}/src/app"]
    on_disk = json.loads(cli.store.read_text())
    assert on_disk["version"] == 3
    assert on_disk["tokens"][0]["directories"] == data["directories"]


def test_relative_directories_are_taken_from_the_current_folder(cli: Cli, tmp_path: Path) -> None:
    cli.monkeypatch.chdir(tmp_path)
    result = cli("token", "create", "--name", "here", "--directory", ".", "--json")
    assert result.code == 0
    assert json.loads(result.out)["directories"] == [str(tmp_path)]


def test_list_and_show_say_where_a_token_may_work(cli: Cli) -> None:
    cli("token", "create", "--name", "narrow", "--directory", "/srv/app")
    cli("token", "create", "--name", "wide")
    listing = cli("token", "list").out.splitlines()
    narrow = next(i for i, line in enumerate(listing) if " narrow " in line)
    assert listing[narrow + 1].strip() == "in /srv/app"
    assert all(len(line) <= 80 for line in listing)
    show = cli("token", "show", "wide").out
    assert "directories  every directory the server serves" in show
    assert "directories  /srv/app" in cli("token", "show", "narrow").out


def test_edit_keeps_the_secret(cli: Cli, secret_of: SecretOf) -> None:
    secret = secret_of("--name", "a", "--permissions", "read")
    result = cli(
        "token",
        "edit",
        "a",
        "--name",
        "b",
        "--note",
        "dashboard",
        "--permissions",
        "read,write",
        "--directory",
        "/srv/app",
        "--expires",
        "7d",
    )
    assert result.code == 0, result.err
    assert "Edited token 'b'" in result.out and "secret is unchanged" in result.out
    shown = json.loads(cli("token", "show", "b", "--json").out)
    assert shown["note"] == "dashboard" and shown["directories"] == ["/srv/app"]
    assert shown["permissions"] == ["read", "write"]
    check = cli("token", "check", "POST", "/log", stdin=secret)
    assert check.code == 0  # the same secret now has write
    cleared = cli("token", "edit", "b", "--all-directories", "--note", "")
    assert cleared.code == 0
    shown = json.loads(cli("token", "show", "b", "--json").out)
    assert shown["directories"] == [] and shown["note"] is None


def test_edit_with_nothing_new_changes_nothing(cli: Cli) -> None:
    cli("token", "create", "--name", "a", "--note", "n")
    before = cli.bytes()
    result = cli("token", "edit", "a", "--note", "n")
    assert result.code == 0
    assert "nothing changed" in result.err
    assert cli.bytes() == before


def test_edit_refusals_are_one_line_and_change_nothing(cli: Cli) -> None:
    cli("token", "create", "--name", "a")
    cli("token", "create", "--name", "b")
    before = cli.bytes()
    for args, code, text in [
        (["a", "--name", "B"], 2, "already exists"),
        (["a", "--directory", "/x", "--all-directories"], 2, "exclude each other"),
        (["a", "--directory", "/x/../y"], 0, ""),  # made absolute and clean: allowed
        (["a", "--directory", "/srv/a\x1b[31m"], 2, "control character U+001B"),
        (["a", "--directory", "/srv/a\nb"], 2, "control character U+000A"),
        (["a", "--directory", "/srv/a\u200bb"], 2, "invisible format character U+200B"),
        (["nope", "--note", "x"], 1, "no token"),
        (["a", "--note", "x" * 201], 2, "maximum is 200"),
        (["a", "--permissions", "admin"], 2, "unknown permission"),
        (["a", "--expires", "0d"], 2, "at least 1"),
    ]:
        result = cli("token", "edit", *args)
        assert result.code == code, (args, result.err)
        if code:
            assert len(result.err_lines) == 1 and text in result.err, (args, result.err)
            assert cli.bytes() == before, args
        before = cli.bytes()
