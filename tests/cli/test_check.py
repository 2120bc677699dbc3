"""`token check METHOD PATH`: the token comes from stdin; exit 0 allowed, 1 denied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.model.token_format import checksum
from tests.cli.conftest import Cli, SecretOf, assert_one_line_error

TOKEN = "ocat_3VDgZazynFNLblzzVqH0Fe0iZcj9"  # well-formed, in no store


@pytest.fixture
def tokens(cli: Cli, secret_of: SecretOf) -> dict[str, str]:
    expired = cli.core(days_ago=3).create(name="expired", expires="1d").secret.reveal()
    return {
        "read": secret_of("--name", "r", "--permissions", "read"),
        "all": secret_of("--name", "all"),
        "expired": expired,
    }


def _check(cli: Cli, method: str, path: str, token: str) -> tuple[int, dict[str, Any]]:
    result = cli("token", "check", method, path, "--json", stdin=token + "\n")
    assert "Traceback" not in result.err
    return result.code, json.loads(result.out)


def _token_for(who: str, tokens: dict[str, str]) -> str:
    if who == "none":
        return ""
    if who == "garbage":
        return "not-a-token"
    if who == "bad-checksum":
        good = tokens["all"]
        return good[:-1] + ("A" if good[-1] != "A" else "B")
    if who == "unknown":  # well-formed, right checksum, in no store
        head = "ocat_" + "1" * 22
        return head + checksum(head)
    return tokens[who]


@pytest.mark.parametrize(
    ("who", "method", "path", "code", "status", "reason"),
    [
        ("read", "GET", "/file", 0, 200, "ok"),
        ("read", "get", "/file", 0, 200, "ok"),  # the CLI upper-cases what you type
        ("read", "POST", "/file", 1, 403, "insufficient_scope"),
        ("read", "GET", "/config", 1, 403, "insufficient_scope"),
        ("read", "GET", "/session", 1, 403, "insufficient_scope"),
        ("read", "GET", "/%73ession", 1, 403, "insufficient_scope"),
        ("read", "GET", "/global/../session", 1, 403, "insufficient_scope"),
        ("all", "POST", "/session/abc/message", 0, 200, "ok"),
        ("all", "TRACE", "/file", 1, 403, "method_not_allowed"),
        ("expired", "GET", "/file", 1, 401, "expired"),
        ("none", "GET", "/file", 1, 401, "missing_token"),
        ("none", "GET", "/global/health", 0, 200, "public"),
        ("garbage", "GET", "/file", 1, 401, "malformed"),
        ("bad-checksum", "GET", "/file", 1, 401, "bad_checksum"),
        ("unknown", "GET", "/file", 1, 401, "unknown_token"),
    ],
)
def test_decisions(
    cli: Cli,
    tokens: dict[str, str],
    who: str,
    method: str,
    path: str,
    code: int,
    status: int,
    reason: str,
) -> None:
    token = _token_for(who, tokens)
    got_code, data = _check(cli, method, path, token)
    assert (got_code, data["status"], data["reason"]) == (code, status, reason)
    assert set(data) - {"message"} == {
        "allowed",
        "status",
        "reason",
        "rule",
        "required",
        "granted",
        "token_id",
        "path",
    }


def test_human_output(cli: Cli, tokens: dict[str, str]) -> None:
    result = cli("token", "check", "GET", "/session?x=1", stdin=tokens["read"])
    assert result.code == 1
    assert result.out.startswith("403 insufficient_scope: denied by GET /session ")
    assert "needs read,execute" in result.out
    assert "has read" in result.out
    assert tokens["read"] not in result.out + result.err


def test_checks_the_file_as_it_is_now(cli: Cli, tokens: dict[str, str]) -> None:
    assert _check(cli, "GET", "/file", tokens["read"])[0] == 0
    assert cli("token", "delete", "r", "--yes").code == 0
    assert _check(cli, "GET", "/file", tokens["read"])[1]["reason"] == "unknown_token"


def test_the_rule_that_decided_is_named(cli: Cli, tokens: dict[str, str]) -> None:
    assert _check(cli, "GET", "/file/content?path=a", tokens["read"])[1]["rule"] == (
        "GET /file/content"
    )
    # the config can hold API keys: the policy adds execute to the method's read
    code, data = _check(cli, "GET", "/config", tokens["read"])
    assert (code, data["rule"], data["required"]) == (1, "GET /config", ["read", "execute"])
    code, data = _check(cli, "PUT", "/nothing/here", tokens["all"])
    assert (code, data["rule"], data["required"]) == (
        0,
        "unclassified",
        ["read", "write", "execute"],
    )


def test_directory_applies_the_tokens_directories(
    cli: Cli, secret_of: SecretOf, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    token = secret_of("--name", "narrow", "--permissions", "read", "--directory", str(project))
    inside = cli("token", "check", "--directory", str(project / "sub"), "GET", "/file", stdin=token)
    assert inside.code == 0, inside.out
    outside = cli("token", "check", "--directory", "/etc", "GET", "/file", stdin=token)
    assert outside.code == 1
    assert "403 directory_not_allowed" in outside.out
    assert "outside the directories this token may use" in outside.out
    # without --directory: as for a request naming none (opencode's own, a root)
    assert cli("token", "check", "GET", "/file", stdin=token).code == 0
    # a directory the target names is checked too
    named = cli("token", "check", "GET", "/file?directory=/etc", stdin=token)
    assert named.code == 1 and "directory_not_allowed" in named.out


def test_paths_no_server_serves(cli: Cli, tokens: dict[str, str]) -> None:
    code, data = _check(
        cli, "GET", "/file/content?directory=/proc/self&path=environ", tokens["all"]
    )
    assert (code, data["reason"]) == (1, "protected_path")


def test_the_token_is_typed_unseen_at_a_terminal(cli: Cli, tokens: dict[str, str]) -> None:
    """On a terminal the token is asked for (the system console hides it as typed)."""
    result = cli("token", "check", "GET", "/file", stdin=tokens["read"] + "\n", stdin_tty=True)
    assert result.code == 0 and result.out.startswith("200 ok")
    assert "Token:" in result.err
    assert tokens["read"] not in result.out + result.err


def test_a_token_given_on_the_command_line_is_refused_not_echoed(cli: Cli) -> None:
    result = cli("token", "check", "GET", f"/file?x={TOKEN}", stdin="")
    assert_one_line_error(result, 2, "reads the token from stdin")
    assert TOKEN not in result.err + result.out
    result = cli("token", "check", TOKEN, "/file", stdin="")
    assert result.code == 2 and TOKEN not in result.err + result.out


def test_a_refused_method_is_said_so(cli: Cli, secret_of: SecretOf) -> None:
    token = secret_of("--name", "a")
    result = cli("token", "check", "TRACE", "/x", stdin=token)
    assert result.code == 1
    assert "TRACE is not one of the methods opencode serves" in result.out
    assert "needs nothing" not in result.out
