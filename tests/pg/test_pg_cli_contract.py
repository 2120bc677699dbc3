"""The CLI contract, run on both engines: the same commands, output, errors and
exit codes whether the store is the JSON file or a PostgreSQL database.

Each test gets a `store` fixture for one engine: the console script in a
subprocess (as tests/cli does), pointed at the store through the environment
(`OPENCODE_AUTH_TOKENS_FILE`, or `OPENCODE_AUTH_TOKENS_URL`), and a library
store on the same location with a clock of its choosing (to make tokens that
are already expired).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.model.token_format import check_format
from core.store import Store
from core.store.engines import open_store
from core.store.location import StoreLocation
from tests.cli.conftest import SCRIPT, Result


@dataclass
class EngineCli:
    engine: str
    location: StoreLocation
    env: dict[str, str]

    def __call__(self, *args: str, stdin: str = "") -> Result:
        proc = subprocess.run(
            [str(SCRIPT), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, stdin: str = "") -> Result:
        result = self(*args, stdin=stdin)
        assert result.code == 0, result.err
        return result

    def core(self, *, days_ago: float = 0) -> Store:
        moment = datetime.now(UTC) - timedelta(days=days_ago)
        return open_store(self.location, clock=lambda: moment)

    def listed(self) -> list[dict[str, object]]:
        data = json.loads(self.ok("token", "list", "--json").out)
        assert isinstance(data, list)
        return data

    def secret(self, *args: str) -> str:
        return self.ok("token", "create", "--quiet", *args).out.strip()

    def check(self, secret: str, method: str = "GET", target: str = "/file?path=a") -> Result:
        return self("token", "check", method, target, stdin=secret + "\n")


@pytest.fixture(params=["file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EngineCli:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }
    location: StoreLocation
    if request.param == "file":
        location = tmp_path / "cfg" / "auth-tokens.json"
        env["OPENCODE_AUTH_TOKENS_FILE"] = str(location)
    else:
        location = request.getfixturevalue("pg_url")
        env["OPENCODE_AUTH_TOKENS_URL"] = str(location)
    return EngineCli(request.param, location, env)


def test_create_list_show_round_trip(store: EngineCli) -> None:
    created = json.loads(
        store.ok("token", "create", "--name", "ci", "--permissions", "read", "--json").out
    )
    assert check_format(created["token"]) is None
    assert created["permissions"] == ["read"] and created["status"] == "active"
    listed = store.listed()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and "digest" not in listed[0]
    assert listed[0] == {k: v for k, v in created.items() if k != "token"}
    shown = json.loads(store.ok("token", "show", "CI", "--json").out)  # name, any case
    assert shown.pop("sessions") == []  # show adds the token's browser sessions
    assert shown == listed[0]
    table = store.ok("token", "list").out.splitlines()
    assert table[0].split() == ["ID", "NAME", "PERMS", "EXPIRES", "STATUS", "LAST", "USED"]
    assert table[1].split()[:3] == [created["id"], "ci", "r--"]


def test_generated_names_and_json_field_selection(store: EngineCli) -> None:
    store.secret()
    store.secret()
    names = json.loads(store.ok("token", "list", "--json", "name,status").out)
    assert names == [
        {"name": "token-1", "status": "active"},
        {"name": "token-2", "status": "active"},
    ]


def test_an_empty_store_says_where_it_is_and_how_to_start(store: EngineCli) -> None:
    result = store.ok("token", "list")
    assert result.out == ""
    shown = str(store.location)
    assert f"No tokens in {shown}." in result.err
    assert "token create" in result.err


def test_names_are_unique_ignoring_case_and_a_clash_changes_nothing(store: EngineCli) -> None:
    store.secret("--name", "Deploy")
    before = store.listed()
    for name in ("deploy", "DEPLOY"):
        result = store("token", "create", "--name", name)
        assert result.code == 2
        same = before[0]["id"]
        assert result.err_lines == [
            f"opencode-auth-tui: error: a token named 'Deploy' already exists (id {same})"
        ]
    assert store.listed() == before


def test_casefold_is_the_rule_not_lower(store: EngineCli) -> None:
    """'STRASSE' and 'straße' are one name by str.casefold (the file's rule);
    SQL lower() would let both in."""
    store.secret("--name", "straße")
    result = store("token", "create", "--name", "STRASSE")
    assert result.code == 2 and "already exists" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--permissions", "read,admin"), "permissions"),
        (("--expires", "0d"), "expiry"),
        (("--expires", "2001-01-01"), "not in the future"),
        (("--name", "bad\x1bname"), "name"),
    ],
)
def test_bad_input_is_exit_2_and_changes_nothing(
    store: EngineCli, args: tuple[str, ...], message: str
) -> None:
    result = store("token", "create", *args)
    assert result.code == 2
    assert len(result.err_lines) == 1 and message in result.err_lines[0].lower()
    assert "Traceback" not in result.err
    assert store.listed() == []


def test_unknown_token_is_exit_1(store: EngineCli) -> None:
    for command in (("show", "nope"), ("edit", "nope", "--note", "x"), ("rotate", "nope")):
        result = store("token", *command)
        assert result.code == 1, command
        assert result.err_lines == ["opencode-auth-tui: error: no token with id or name 'nope'"]
    result = store("token", "delete", "nope", "--yes")
    assert result.code == 1


def test_check_allows_and_denies_by_permission(store: EngineCli) -> None:
    reader = store.secret("--name", "reader", "--permissions", "read")
    assert store.check(reader).code == 0
    denied = store.check(reader, "POST", "/log")
    assert denied.code == 1 and denied.out.startswith("403 insufficient_scope")
    assert store.check("ocat_" + "A" * 28).code == 1  # bad checksum: refused offline


def test_edit_keeps_the_secret_and_changes_what_it_may_do(store: EngineCli) -> None:
    secret = store.secret("--name", "ci", "--permissions", "read")
    result = store.ok("token", "edit", "ci", "--name", "ci-2", "--permissions", "read,write")
    assert "Its secret is unchanged" in result.out
    assert store.check(secret, "POST", "/log").code == 0
    record = store.listed()[0]
    assert record["name"] == "ci-2" and record["permissions"] == ["read", "write"]
    nothing = store.ok("token", "edit", "ci-2", "--name", "ci-2")
    assert "nothing changed" in nothing.err


def test_rotate_retires_the_old_secret_at_once(store: EngineCli) -> None:
    old = store.secret("--name", "ci")
    before = store.listed()[0]
    new = store.ok("token", "rotate", "ci", "--quiet").out.strip()
    assert new != old and check_format(new) is None
    assert store.check(old).code == 1
    assert "unknown_token" in store.check(old).out
    assert store.check(new).code == 0
    after = store.listed()[0]
    assert after["id"] == before["id"] and after["hint"] != before["hint"]


def test_delete_needs_yes_without_a_terminal_then_revokes(store: EngineCli) -> None:
    secret = store.secret("--name", "gone")
    refused = store("token", "delete", "gone")
    assert refused.code == 2 and "--yes" in refused.err
    assert store.check(secret).code == 0
    deleted = store.ok("token", "delete", "gone", "--yes")
    assert "Deleted token 'gone'" in deleted.out
    assert store.check(secret).code == 1
    assert store.listed() == []


def test_delete_is_all_or_nothing(store: EngineCli) -> None:
    store.secret("--name", "a")
    result = store("token", "delete", "a", "missing", "--yes")
    assert result.code == 1
    assert [t["name"] for t in store.listed()] == ["a"]


def test_prune_deletes_only_expired_tokens(store: EngineCli) -> None:
    old = store.core(days_ago=40)
    old.create(name="expired", expires="30d")
    old.create(name="still-good", expires="90d")
    old.close()
    store.secret("--name", "fresh")
    listed = store.listed()
    statuses = {t["name"]: t["status"] for t in listed}
    assert statuses == {"expired": "expired", "still-good": "active", "fresh": "active"}
    gone = next(t["id"] for t in listed if t["name"] == "expired")
    result = store.ok("token", "prune", "--yes")
    assert result.out.splitlines() == [f"Deleted expired token 'expired' (id {gone})"]
    assert sorted(str(t["name"]) for t in store.listed()) == ["fresh", "still-good"]
    assert "No expired tokens" in store.ok("token", "prune", "--yes").err


def test_export_writes_the_store_as_a_v3_file(store: EngineCli, tmp_path: Path) -> None:
    store.secret("--name", "a", "--note", "first")
    store.secret("--name", "b", "--directory", "/srv/app")
    out = tmp_path / "exported.json"
    result = store.ok("export", "--to", str(out))
    assert "2 copied" in result.out
    assert out.stat().st_mode & 0o777 == 0o600
    doc = json.loads(out.read_text())
    assert doc["version"] == 3
    assert [t["name"] for t in doc["tokens"]] == ["a", "b"]
    stdout = json.loads(store.ok("export").out)
    assert stdout == doc
    again = store("export", "--to", str(out))
    assert again.code == 0 and "0 copied" in again.out and "2 already there" in again.out


# --- browser sessions and pairing, on both engines ------------------------------------------


def test_pair_then_sessions_list_end_and_logout(store: EngineCli) -> None:
    import re

    from core.model.token_format import PAIRING_PREFIX

    paired = store.ok("pair", "--url", "https://gw.example:4097", "--permissions", "read")
    found = re.search(r"https://gw\.example:4097/_auth/pair\?code=(\S+)", paired.out)
    assert found is not None, paired.out
    code = found.group(1)
    assert check_format(code, PAIRING_PREFIX) is None
    assert "ocat_" not in paired.out + paired.err  # the token's secret: never
    assert json.loads(store.ok("session", "list", "--json").out) == []
    core = store.core()
    try:
        first = core.consume_pairing(code, client="192.0.2.5", user_agent="Phone UA")
        second = core.create_session("device-1", client="192.0.2.6", user_agent="Laptop UA")
    finally:
        core.close()
    listed = json.loads(store.ok("session", "list", "--json").out)
    assert [(s["id"], s["token_name"], s["via"]) for s in listed] == [
        (first.record.id, "device-1", "pairing"),
        (second.record.id, "device-1", "login"),
    ]
    table = store.ok("session", "list").out.splitlines()
    assert table[0].split() == ["ID", "TOKEN", "LAST", "SEEN", "FROM", "EXPIRES"]
    shown = store.ok("token", "show", "device-1")
    assert "sessions     2 browsers signed in" in shown.out
    assert [
        s["id"] for s in json.loads(store.ok("token", "show", "device-1", "--json").out)["sessions"]
    ] == [first.record.id, second.record.id]
    ended = store.ok("session", "end", first.record.id)
    assert ended.out.startswith(f"Ended session {first.record.id} of token 'device-1'")
    missing = store("session", "end", first.record.id)
    assert missing.code == 1 and len(missing.err.strip().splitlines()) == 1
    out = store.ok("token", "logout", "device-1").out
    assert out.startswith("Ended 1 session of token 'device-1'")
    assert json.loads(store.ok("session", "list", "--json").out) == []
    again = store("pair", "--url", "https://gw.example/x")
    assert again.code == 2 and "path, query or fragment" in again.err
    assert [t["name"] for t in store.listed()] == ["device-1"]  # nothing made
