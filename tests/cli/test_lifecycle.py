"""delete, rotate and prune: confirmations, all-or-nothing, and revocation."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, SecretOf


def _names(cli: Cli) -> list[str]:
    return [r["name"] for r in json.loads(cli("token", "list", "--json").out)]


def _run_on_tty(cli: Cli, args: list[str], answer: str) -> tuple[int, str, str]:
    """Run with stdin on a terminal and `answer` typed at the prompt."""
    result = cli(*args, stdin=answer + "\n", stdin_tty=True)
    return result.code, result.out, result.err


def test_delete_with_yes(cli: Cli, secret_of: SecretOf) -> None:
    secret = secret_of("--name", "a")
    secret_of("--name", "b")
    result = cli("token", "delete", "a", "--yes")
    assert result.code == 0
    assert "Deleted token 'a'" in result.out
    assert _names(cli) == ["b"]
    assert cli("token", "check", "GET", "/x", stdin=secret).code == 1


def test_delete_several_by_id_and_name(cli: Cli, secret_of: SecretOf) -> None:
    for name in "abc":
        secret_of("--name", name)
    ids = {r["name"]: r["id"] for r in json.loads(cli("token", "list", "--json").out)}
    assert cli("token", "delete", ids["a"], "c", "--yes").code == 0
    assert _names(cli) == ["b"]


def test_delete_without_tty_or_yes_refuses(cli: Cli, secret_of: SecretOf) -> None:
    secret_of("--name", "a")
    before = cli.bytes()
    result = cli("token", "delete", "a")
    assert result.code == 2
    assert "--yes" in result.err
    assert cli.bytes() == before


def test_delete_asks_on_a_tty(cli: Cli, secret_of: SecretOf) -> None:
    secret_of("--name", "a")
    code, out, err = _run_on_tty(cli, ["token", "delete", "a"], "n")
    assert code == 0
    assert "Delete token 'a'" in err and err.count("[y/N] ") == 1  # asked on stderr
    assert "Nothing deleted" in err and out == ""
    assert _names(cli) == ["a"]
    code, out, err = _run_on_tty(cli, ["token", "delete", "a"], "y")
    assert code == 0
    assert "Deleted token 'a'" in out
    assert _names(cli) == []


def test_rotate_keeps_id_name_permissions_and_revokes_old_secret(
    cli: Cli, secret_of: SecretOf
) -> None:
    old = secret_of("--name", "svc", "--permissions", "read,write", "--expires", "30d")
    before = json.loads(cli("token", "show", "svc", "--json").out)
    result = cli("token", "rotate", "svc", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    new = data["token"]
    assert new != old
    assert (data["id"], data["name"], data["permissions"]) == (
        before["id"],
        "svc",
        ["read", "write"],
    )
    assert "will not be shown again" in result.err
    assert cli("token", "check", "GET", "/file", stdin=old).code == 1
    assert "unknown_token" in cli("token", "check", "GET", "/file", stdin=old).out
    assert cli("token", "check", "GET", "/file", stdin=new).code == 0


def test_rotate_quiet_and_new_expiry(cli: Cli, secret_of: SecretOf) -> None:
    secret_of("--name", "svc", "--expires", "never")
    result = cli("token", "rotate", "svc", "--quiet", "--expires", "7d")
    assert result.code == 0
    assert result.out.count("\n") == 1 and result.out.startswith("ocat_")
    assert json.loads(cli("token", "show", "svc", "--json").out)["status"] == "expiring"


def test_prune_deletes_only_expired(cli: Cli) -> None:
    cli.core().create(name="live", expires="30d")
    cli.core(days_ago=5).create(name="old", expires="1d")
    cli.core(days_ago=5).create(name="older", expires="2d")
    before = cli.bytes()
    refused = cli("token", "prune")
    assert refused.code == 2 and cli.bytes() == before
    result = cli("token", "prune", "--yes")
    assert result.code == 0
    assert "Deleted expired token 'old'" in result.out
    assert _names(cli) == ["live"]
    again = cli("token", "prune", "--yes")
    assert again.code == 0 and "No expired tokens" in again.err


def test_prune_asks_on_a_tty(cli: Cli) -> None:
    cli.core(days_ago=5).create(name="old", expires="1d")
    code, out, err = _run_on_tty(cli, ["token", "prune"], "yes")
    assert code == 0
    assert "Delete expired token: 'old'" in err
    assert "Deleted expired token 'old'" in out
    assert _names(cli) == []
