"""`token create --note/--directory`, `token edit`, directories in `list`/`show`,
and `policy [--json | --diff]`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
SAVED_DOC = ROOT / "tests" / "data" / "opencode-1.18.33-openapi.json"


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
    assert on_disk["version"] == 2
    assert on_disk["tokens"][0]["directories"] == data["directories"]


def test_relative_directories_are_taken_from_the_current_folder(cli: Cli) -> None:
    result = cli("token", "create", "--name", "here", "--directory", ".", "--json")
    assert result.code == 0
    assert json.loads(result.out)["directories"] == [str(ROOT)]  # the CLI runs in the repo


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


def test_edit_keeps_the_secret(cli: Cli, secret_of) -> None:  # type: ignore[no-untyped-def]
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


def test_policy_prints_every_operation(cli: Cli) -> None:
    result = cli("policy")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("The route policy for opencode 1.18.33 (206 operations)")
    row = next(line for line in lines if line.startswith("GET    /config/providers"))
    assert "read+execute" in row and "API keys" in row
    assert "unclassified" in lines[-1]


def test_policy_json(cli: Cli) -> None:
    data = json.loads(cli("policy", "--json").out)
    assert data["opencode"] == "1.18.33"
    assert len(data["operations"]) == 206
    assert {"method", "path", "needs", "directory", "reason"} <= set(data["operations"][0])


def test_policy_diff_lists_what_needs_a_decision(cli: Cli, tmp_path: Path) -> None:
    same = cli("policy", "--diff", str(SAVED_DOC))
    assert same.code == 0 and "nothing to decide" in same.out
    doc = json.loads(SAVED_DOC.read_text())
    doc["paths"]["/brand/new"] = {"post": {"parameters": []}}
    del doc["paths"]["/log"]
    doc["paths"]["/file/content"]["get"]["parameters"].append(
        {"name": "root", "in": "query", "schema": {"type": "string"}}
    )
    newer = tmp_path / "doc.json"
    newer.write_text(json.dumps(doc))
    result = cli("policy", "--diff", str(newer))
    assert result.code == 1
    assert "new, needs a row:    POST /brand/new" in result.out
    assert "gone, remove the row: POST /log" in result.out
    assert "GET /file/content: query parameters changed (added root" in result.out
    as_json = json.loads(cli("policy", "--diff", str(newer), "--json").out)
    assert len(as_json["missing"]) == 1 and as_json["stale"] == ["POST /log"]


def test_policy_diff_of_a_bad_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    for path in (str(bad), str(tmp_path / "missing.json")):
        result = cli("policy", "--diff", path)
        assert result.code == 2 and len(result.err_lines) == 1, result.err
