"""`token create`: defaults, options, output modes, and what lands on disk."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.conftest import Cli

TOKEN_RE = re.compile(r"ocat_[0-9A-Za-z]{28}")
RECORD_FIELDS = {
    "id",
    "name",
    "permissions",
    "created_at",
    "expires_at",
    "last_used_at",
    "last_used_from",
    "hint",
    "legacy",
    "note",
    "directories",
    "status",
}


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_defaults_all_permissions_90_days_secret_once(cli: Cli) -> None:
    result = cli("token", "create")
    assert result.code == 0, result.err
    secrets_out = TOKEN_RE.findall(result.out)
    assert len(secrets_out) == 1
    assert "will not be shown again" in result.err
    assert "token-1" in result.out
    assert "read, write, execute" in result.out

    doc = json.loads(cli.store.read_text())
    assert doc["version"] == 3
    [record] = doc["tokens"]
    assert record["name"] == "token-1"
    assert record["permissions"] == ["read", "write", "execute"]
    lifetime = _parse_time(record["expires_at"]) - _parse_time(record["created_at"])
    assert lifetime == timedelta(days=90)
    # Only the digest is stored, never the secret.
    secret = secrets_out[0]
    assert secret not in cli.store.read_text()
    assert record["digest"] == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    assert record["hint"] == f"ocat_…{secret[-4:]}"


def test_file_0600_and_folder_0700(cli: Cli) -> None:
    assert cli("token", "create").code == 0
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.store.parent.stat().st_mode) == 0o700


def test_custom_name_permissions_expiry(cli: Cli) -> None:
    result = cli(
        "token",
        "create",
        "--name",
        "  ci runner ",
        "--permissions",
        "READ, execute",
        "--expires",
        "12h",
        "--json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["name"] == "ci runner"
    assert data["permissions"] == ["read", "execute"]
    created, expires = _parse_time(data["created_at"]), _parse_time(data["expires_at"])
    assert expires - created == timedelta(hours=12)
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)


def test_expires_never_and_iso_date(cli: Cli) -> None:
    never = json.loads(cli("token", "create", "--expires", "never", "--json").out)
    assert never["expires_at"] is None
    assert never["status"] == "active"
    day = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    dated = json.loads(cli("token", "create", "--expires", day, "--json").out)
    assert dated["expires_at"] == f"{day}T00:00:00Z"


def test_json_has_record_fields_plus_token_and_no_digest(cli: Cli) -> None:
    result = cli("token", "create", "--name", "j", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert set(data) == RECORD_FIELDS | {"token"}
    assert TOKEN_RE.fullmatch(data["token"])
    assert data["status"] == "active"
    assert data["last_used_at"] is None
    assert data["created_at"].endswith("Z")


def test_quiet_prints_exactly_one_line_that_check_accepts(cli: Cli) -> None:
    result = cli("token", "create", "--quiet", "--permissions", "read")
    assert result.code == 0
    assert result.out.count("\n") == 1
    token = result.out.strip()
    assert TOKEN_RE.fullmatch(token)
    check = cli("token", "check", "GET", "/file", stdin=result.out)
    assert check.code == 0, check.out + check.err
    assert check.out.startswith("200 ok")


def test_json_and_quiet_are_exclusive(cli: Cli) -> None:
    result = cli("token", "create", "--json", "--quiet")
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert cli.bytes() is None


def test_generated_names_count_up(cli: Cli) -> None:
    for _ in range(3):
        assert cli("token", "create", "--quiet").code == 0
    names = [r["name"] for r in json.loads(cli("token", "list", "--json").out)]
    assert names == ["token-1", "token-2", "token-3"]


def test_store_flag_beats_environment(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "tokens.json"
    other.parent.mkdir()
    assert cli("--store", str(other), "token", "create", "--quiet").code == 0
    assert other.exists()
    assert cli.bytes() is None
    # ... also accepted after the subcommand
    assert cli("token", "create", "--quiet", "--store", str(other)).code == 0
    assert len(json.loads(other.read_text())["tokens"]) == 2


def test_xdg_config_home_is_the_default(cli: Cli) -> None:
    env = {"OPENCODE_AUTH_TOKENS_FILE": ""}
    assert cli("token", "create", "--quiet", env=env).code == 0
    expected = Path(cli.env["XDG_CONFIG_HOME"]) / "opencode" / "auth-tokens.json"
    assert json.loads(expected.read_text())["version"] == 3


def test_an_execute_only_token_is_created_with_a_warning(cli: Cli) -> None:
    result = cli("token", "create", "--name", "x", "--permissions", "execute", "--quiet")
    assert result.code == 0
    assert "can pass no request" in result.err
    edited = cli("token", "edit", "x", "--permissions", "read,execute")
    assert edited.code == 0 and "can pass no request" not in edited.err
    back = cli("token", "edit", "x", "--permissions", "execute")
    assert "can pass no request" in back.err
