"""`token check METHOD PATH`: the token comes from stdin; exit 0 allowed, 1 denied."""

from __future__ import annotations

import json

import pytest

from core.token_format import checksum
from tests.cli.conftest import Cli


@pytest.fixture
def tokens(cli: Cli, secret_of) -> dict[str, str]:
    expired = cli.core(days_ago=3).create(name="expired", expires="1d").secret.reveal()
    return {
        "read": secret_of("--name", "r", "--permissions", "read"),
        "all": secret_of("--name", "all"),
        "expired": expired,
    }


def _check(cli: Cli, method: str, path: str, token: str) -> tuple[int, dict]:
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
def test_decisions(cli: Cli, tokens, who, method, path, code, status, reason) -> None:
    token = _token_for(who, tokens)
    got_code, data = _check(cli, method, path, token)
    assert (got_code, data["status"], data["reason"]) == (code, status, reason)
    assert set(data) == {"allowed", "status", "reason", "required", "granted", "token_id", "path"}


def test_human_output(cli: Cli, tokens) -> None:
    result = cli("token", "check", "GET", "/session?x=1", stdin=tokens["read"])
    assert result.code == 1
    assert result.out.startswith("403 insufficient_scope: denied")
    assert "needs read,execute" in result.out
    assert "has read" in result.out
    assert tokens["read"] not in result.out + result.err


def test_checks_the_file_as_it_is_now(cli: Cli, tokens) -> None:
    assert _check(cli, "GET", "/file", tokens["read"])[0] == 0
    assert cli("token", "delete", "r", "--yes").code == 0
    assert _check(cli, "GET", "/file", tokens["read"])[1]["reason"] == "unknown_token"
