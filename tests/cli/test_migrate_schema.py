"""`migrate` (PR #8217 files) and `schema`."""

from __future__ import annotations

import json
import stat
from typing import Any

from tests.cli.conftest import Cli, assert_one_line_error

LEGACY: list[dict[str, Any]] = [
    {
        "token": "0123456789abcdef0123456789abcdef",
        "permissions": ["read"],
        "createdAt": 1767225600000,
        "expiresAt": None,
        "name": "laptop",
    },
    {
        "token": "fedcba9876543210fedcba9876543210",
        "permissions": ["read", "write", "execute"],
        "createdAt": 1767225600000,
        "expiresAt": 4102444800000,
    },
    {
        "token": "00112233445566778899aabbccddeeff",
        "permissions": ["write"],
        "createdAt": 1767225600000,
        "expiresAt": 1767312000000,
        "name": "laptop",
    },
]


def _write_legacy(cli: Cli) -> bytes:
    cli.store.parent.mkdir(parents=True)
    data = json.dumps(LEGACY).encode()
    cli.store.write_bytes(data)
    cli.store.chmod(0o600)
    return data


def test_legacy_file_is_recognised_and_left_alone(cli: Cli) -> None:
    original = _write_legacy(cli)
    result = cli("token", "list")
    assert result.code == 3
    assert "PR #8217" in result.err and "migrate" in result.err
    assert cli.store.read_bytes() == original


def test_migrate_needs_confirmation(cli: Cli) -> None:
    original = _write_legacy(cli)
    result = cli("migrate")
    assert result.code == 2
    assert cli.store.read_bytes() == original


def test_migrate_asks_on_a_terminal(cli: Cli) -> None:
    original = _write_legacy(cli)
    declined = cli("migrate", stdin="n\n", stdin_tty=True)
    assert declined.code == 0 and "Convert it, hashing every secret" in declined.err
    assert "Nothing changed." in declined.err
    assert cli.store.read_bytes() == original
    accepted = cli("migrate", stdin="y\n", stdin_tty=True)
    assert accepted.code == 0 and "Migrated 3 tokens" in accepted.out


def test_the_migrate_hint_has_no_nested_parentheses(cli: Cli) -> None:
    cli.store.parent.mkdir(parents=True, exist_ok=True)
    cli.store.write_text(json.dumps([{"token": "x" * 32, "permissions": ["read"], "createdAt": 0}]))
    cli.store.chmod(0o600)
    result = cli("token", "list")
    assert_one_line_error(
        result, 3, "run `opencode-auth-tui migrate` to convert it; a 0600 backup is kept"
    )
    assert "((" not in result.err and "))" not in result.err


def test_migrate_hashes_secrets_keeps_backup_and_old_tokens_work(cli: Cli) -> None:
    original = _write_legacy(cli)
    result = cli("migrate", "--yes")
    assert result.code == 0, result.err
    assert "Migrated 3 tokens" in result.out
    assert "plain text" in result.err  # the backup warning
    text = cli.store.read_text()
    for entry in LEGACY:
        assert entry["token"] not in text
    doc = json.loads(text)
    assert doc["version"] == 3
    names = [t["name"] for t in doc["tokens"]]
    assert names == ["laptop", "token-1", "laptop (2)"]
    assert all(t["legacy"] for t in doc["tokens"])
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o600

    [backup] = [p for p in cli.store.parent.iterdir() if ".pr8217-backup-" in p.name]
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    ok = cli("token", "check", "GET", "/file", stdin=LEGACY[0]["token"])
    assert ok.code == 0, ok.out
    denied = cli("token", "check", "POST", "/file", stdin=LEGACY[0]["token"])
    assert denied.code == 1 and "insufficient_scope" in denied.out
    expired = cli("token", "check", "POST", "/file", stdin=LEGACY[2]["token"])
    assert "expired" in expired.out
    statuses = {r["name"]: r["status"] for r in json.loads(cli("token", "list", "--json").out)}
    assert statuses == {"laptop": "active", "token-1": "active", "laptop (2)": "expired"}


def test_rotating_a_legacy_token_gives_an_ocat_token(cli: Cli) -> None:
    _write_legacy(cli)
    assert cli("migrate", "--yes").code == 0
    rotated = json.loads(cli("token", "rotate", "laptop", "--json").out)
    assert rotated["token"].startswith("ocat_") and rotated["legacy"] is False
    assert cli("token", "check", "GET", "/file", stdin=LEGACY[0]["token"]).code == 1


def test_migrate_current_or_missing_store(cli: Cli) -> None:
    missing = cli("migrate", "--yes")
    assert missing.code == 1 and "nothing to migrate" in missing.err
    assert cli("token", "create", "--quiet").code == 0
    before = cli.bytes()
    current = cli("migrate", "--yes")
    assert current.code == 0 and "already in the current format" in current.err
    assert cli.bytes() == before


def test_schema_describes_the_file(cli: Cli) -> None:
    result = cli("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {"version", "tokens", "sessions", "pairings"}
    record = schema["$defs"]["TokenRecord"]
    assert record["additionalProperties"] is False
    assert {
        "id",
        "name",
        "permissions",
        "created_at",
        "expires_at",
        "last_used_at",
        "hint",
        "digest",
    } <= set(record["properties"])
    assert "token" not in record["properties"]
