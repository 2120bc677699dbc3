"""`token list` and `token show`: tables that fit 80 columns, JSON with the file's
field names plus status, and names that can never inject terminal escapes."""

from __future__ import annotations

import json

from core.present import cell_width
from tests.cli.conftest import Cli, assert_one_line_error


def _seed_statuses(cli: Cli) -> None:
    """active, expiring (within 7 days), expired and never-expiring tokens."""
    cli.core().create(name="active", expires="30d")
    cli.core().create(name="expiring", expires="3d")
    cli.core(days_ago=10).create(name="expired", expires="2d")
    cli.core().create(name="forever", permissions="read", expires="never")


def test_empty_store_says_how_to_create(cli: Cli) -> None:
    result = cli("token", "list")
    assert result.code == 0
    assert result.out == ""
    assert "token create" in result.err
    assert json.loads(cli("token", "list", "--json").out) == []


def test_json_statuses_and_fields(cli: Cli) -> None:
    _seed_statuses(cli)
    data = {r["name"]: r for r in json.loads(cli("token", "list", "--json").out)}
    assert {n: r["status"] for n, r in data.items()} == {
        "active": "active",
        "expiring": "expiring",
        "expired": "expired",
        "forever": "active",
    }
    file_fields = set(json.loads(cli.store.read_text())["tokens"][0]) - {"digest"}
    for record in data.values():
        assert set(record) == file_fields | {"status"}
        assert "digest" not in record


def test_table_fits_80_columns(cli: Cli) -> None:
    _seed_statuses(cli)
    cli.core().create(name="n" * 64)
    cli.core().create(name="名前がとても長いトークンの名前です名前がとても長い")
    result = cli("token", "list")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "PERMS", "EXPIRES", "STATUS", "LAST", "USED"]
    assert len(lines) == 1 + 6
    for line in lines:
        assert cell_width(line) <= 80, line
    expired = next(line for line in lines if line.split()[1] == "expired")
    assert expired.split()[-2:-1] == ["expired"] or "  expired  " in expired
    forever = next(line for line in lines if "forever" in line)
    assert " r-- " in forever and " never " in forever


def test_status_colour_only_on_a_colour_terminal(cli: Cli) -> None:
    _seed_statuses(cli)
    coloured = cli("token", "list", stdout_tty=True, color=True).out
    assert "\x1b[31mexpired " in coloured and "\x1b[33mexpiring" in coloured
    assert "\x1b" not in cli("token", "list", stdout_tty=True).out  # NO_COLOR or a pipe
    assert "\x1b" not in cli("token", "list", "--json", stdout_tty=True, color=True).out


def test_hand_written_control_characters_are_escaped(cli: Cli) -> None:
    cli.core().create(name="evil")
    doc = json.loads(cli.store.read_text())
    doc["tokens"][0]["name"] = "\x1b]0;owned\x07\x1b[2J\u202eevil"
    cli.store.write_text(json.dumps(doc))
    for args in (
        ["token", "list"],
        ["token", "list", "--json"],
        ["token", "show", doc["tokens"][0]["id"]],
    ):
        result = cli(*args)
        assert result.code == 0, result.err
        assert "\x1b" not in result.out and "\x07" not in result.out and "\u202e" not in result.out
    assert "\\x1b]0;owned\\x07" in cli("token", "list").out
    parsed = json.loads(cli("token", "list", "--json").out)
    assert parsed[0]["name"] == doc["tokens"][0]["name"]  # JSON escapes round-trip exactly


def test_show_by_id_name_and_case_insensitive_name(cli: Cli) -> None:
    issued = cli.core().create(name="Deploy Bot", permissions="read,write", expires="30d")
    for ref in (issued.record.id, "Deploy Bot", "deploy bot"):
        result = cli("token", "show", ref)
        assert result.code == 0, result.err
        assert issued.record.id in result.out
        assert "read, write" in result.out
        assert "ocat_" in result.out  # the hint ...
        assert issued.secret.reveal() not in result.out  # ... never the secret
    data = json.loads(cli("token", "show", "deploy bot", "--json").out)
    assert data["id"] == issued.record.id
    assert data["status"] == "active"
    assert "digest" not in data


def test_relative_expiry_in_table(cli: Cli) -> None:
    cli.core().create(name="a", expires="90d")
    cli.core(days_ago=2 + 1 / 24).create(name="b", expires="1d")
    out = cli("token", "list").out
    assert "in 90 days" in out
    assert "1 day ago" in out


def test_a_year_reads_as_a_year_everywhere(cli: Cli) -> None:
    created = cli("token", "create", "--name", "y", "--expires", "1y")
    assert "(in 1 year)" in created.out
    assert "in 1 year" in cli("token", "list").out
    assert "(in 1 year)" in cli("token", "show", "y").out


def test_json_output_has_the_new_fields_and_a_field_selection(cli: Cli) -> None:
    cli("token", "create", "--name", "a", "--note", "n", "--directory", "/srv/app")
    full = json.loads(cli("token", "list", "--json").out)[0]
    assert full["note"] == "n" and full["directories"] == ["/srv/app"]
    assert "digest" not in full
    picked = json.loads(cli("token", "list", "--json", "id,name,status").out)
    assert list(picked[0]) == ["id", "name", "status"]
    shown = json.loads(cli("token", "show", "a", "--json", "note,directories").out)
    assert shown == {"note": "n", "directories": ["/srv/app"]}
    assert_one_line_error(cli("token", "list", "--json", "id,digest"), 2, "unknown field digest")
    assert_one_line_error(cli("token", "show", "a", "--json", ","), 2, "unknown field (none)")
