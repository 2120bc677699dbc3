"""A store that is corrupt, truncated, of an unknown version, old-format, unreadable
or unwritable: every command says so in one line with the path, exits 3, and
leaves the file exactly as it was."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, SecretOf, assert_one_line_error

VALID_RECORD = {
    "id": "abcd1234",
    "name": "x",
    "permissions": ["read"],
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": None,
    "last_used_at": None,
    "hint": "ocat_…abcd",
    "digest": "sha256:" + "0" * 64,
    "legacy": False,
}

BROKEN = {
    "garbage": (b"this is not json", "invalid JSON"),
    "truncated": (json.dumps({"version": 1, "tokens": [VALID_RECORD]}).encode()[:-20], "truncated"),
    "empty": (b"", "empty"),
    "not-utf8": (b'{"version": 1, "tokens": ["\xff\xfe"]}', "UTF-8"),
    "future-version": (b'{"version": 99, "tokens": []}', "version 99 is not supported"),
    "no-version": (b'{"tokens": []}', "no version"),
    "wrong-type": (
        json.dumps({"version": 1, "tokens": [{**VALID_RECORD, "permissions": "all"}]}).encode(),
        "tokens[0].permissions",
    ),
    "typo-field": (
        json.dumps({"version": 1, "tokens": [{**VALID_RECORD, "expires": None}]}).encode(),
        "tokens[0].expires",
    ),
    "bad-permission": (
        json.dumps({"version": 1, "tokens": [{**VALID_RECORD, "permissions": ["admin"]}]}).encode(),
        "permissions",
    ),
    "duplicate-names": (
        json.dumps(
            {
                "version": 1,
                "tokens": [
                    VALID_RECORD,
                    {**VALID_RECORD, "id": "zzzz9999", "digest": "sha256:" + "1" * 64},
                ],
            }
        ).encode(),
        "share the name",
    ),
    "legacy": (
        json.dumps(
            [
                {
                    "token": "abc123",
                    "permissions": ["read"],
                    "createdAt": 1736700000000,
                    "expiresAt": None,
                }
            ]
        ).encode(),
        "migrate",
    ),
    "array": (b"[1, 2, 3]", "not a PR #8217 token list"),
}

COMMANDS = [
    ["token", "list"],
    ["token", "list", "--json"],
    ["token", "show", "x"],
    ["token", "create", "--name", "new"],
    ["token", "delete", "x", "--yes"],
    ["token", "rotate", "x"],
    ["token", "prune", "--yes"],
    ["token", "check", "GET", "/file"],
]


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_every_command_refuses_a_broken_store(cli: Cli, kind: str) -> None:
    content, expect = BROKEN[kind]
    cli.store.parent.mkdir(parents=True)
    cli.store.write_bytes(content)
    os.chmod(cli.store, 0o600)
    for command in COMMANDS:
        result = cli(*command, stdin="ocat_x\n")
        assert result.code == 3, (command, result.err)
        assert len(result.err_lines) == 1, result.err
        assert str(cli.store) in result.err
        assert expect in result.err, result.err
        assert "Traceback" not in result.err
        assert cli.store.read_bytes() == content, command
    assert [p.name for p in cli.store.parent.iterdir() if p.name.startswith(".")] == []


def test_store_is_a_folder(cli: Cli) -> None:
    cli.store.mkdir(parents=True)
    result = cli("token", "list")
    assert result.code == 3
    assert "is a folder" in result.err


def test_missing_folder_lists_empty_and_create_makes_it(cli: Cli) -> None:
    assert not cli.store.parent.exists()
    result = cli("token", "list")
    assert result.code == 0
    assert "No tokens" in result.err
    assert not cli.store.parent.exists()  # reading never creates anything
    assert cli("token", "create", "--quiet").code == 0
    assert stat.S_IMODE(cli.store.parent.stat().st_mode) == 0o700


def test_unwritable_folder_exit_3_nothing_written(cli: Cli) -> None:
    # /proc refuses new files even to root, unlike a chmod'ed folder.
    result = cli("--store", "/proc/opencode-auth-tokens.json", "token", "create")
    assert result.code == 3, result.err
    assert len(result.err_lines) == 1
    assert "/proc" in result.err
    assert "ocat_" not in result.out  # no secret shown for a token that was not stored


def test_unreadable_file(cli: Cli) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file regardless of mode; covered by the corrupt-file cases")
    assert cli("token", "create").code == 0
    os.chmod(cli.store, 0)
    result = cli("token", "list")
    assert result.code == 3
    assert "permission denied" in result.err


def test_group_readable_file_warns_and_next_write_fixes_mode(cli: Cli) -> None:
    assert cli("token", "create", "--name", "a").code == 0
    os.chmod(cli.store, 0o644)
    listed = cli("token", "list")
    assert listed.code == 0
    assert "warning" in listed.err and "chmod 600" in listed.err
    assert cli("token", "create", "--name", "b").code == 0
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o600


def test_mode_0600_survives_every_command(cli: Cli) -> None:
    secret = cli("token", "create", "--name", "a", "--quiet").out
    steps = [
        ["token", "create", "--name", "b"],
        ["token", "list"],
        ["token", "show", "a"],
        ["token", "rotate", "a"],
        ["token", "prune", "--yes"],
        ["token", "delete", "b", "--yes"],
        ["migrate", "--yes"],
    ]
    for step in steps:
        cli(*step, stdin=secret)
        assert stat.S_IMODE(cli.store.stat().st_mode) == 0o600, step


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
        assert_one_line_error(result, 3, "read-only")
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
        assert_one_line_error(result, 3, "is a folder")
        assert "mode" not in result.err


def test_schema_never_warns_and_check_warns_like_list(cli: Cli, secret_of: SecretOf) -> None:
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
        assert_one_line_error(result, 3, "the file is truncated")
        assert "Unterminated" not in result.err
