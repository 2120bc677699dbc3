"""Every bad input SPEC names: exit code 2 (1 for unknown tokens), one line on
stderr, no traceback, and the store file unchanged byte for byte."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, assert_one_line_error

Seeded = tuple[Cli, bytes, str]
"""The CLI, the store's bytes with one token in it, and that token's id."""


@pytest.fixture
def seeded(cli: Cli) -> Seeded:
    result = cli("token", "create", "--name", "existing", "--json")
    assert result.code == 0
    return cli, cli.store.read_bytes(), json.loads(result.out)["id"]


BAD_CREATE = [
    (["--name", ""], "name is empty"),
    (["--name", "   "], "name is empty"),
    (["--name", "x" * 65], "maximum is 64"),
    (["--name", "\x1b[31mred"], "control character"),
    (["--name", "bell\x07"], "control character"),
    (["--name", "del\x7f"], "control character"),
    (["--name", "c1\x85x"], "control character"),
    (["--name", "a\u202eb"], "invisible format character U+202E"),
    (["--name", "zero\u200bwidth"], "invisible format character U+200B"),
    (["--name", "a\u2028b"], "line separator U+2028"),
    (["--name", "\udcff\udcfe"], "not valid UTF-8"),  # what Python makes of --name $'\xff\xfe'
    (["--name", "ocat_3VDgZazynFNLblzzVqH0Fe0iZcj9"], "like a token secret"),
    (["--name", "OCAT_anything"], "like a token secret"),
    (["--note", "deploy ocat_3VDgZazynFNLblzzVqH0Fe0iZcj9"], "looks like a token secret"),
    (["--note", "x" * 201], "maximum is 200"),
    (["--name", "line\nbreak"], "control character"),
    (["--name", "existing"], "already exists"),
    (["--name", "EXISTING"], "already exists"),
    (["--permissions", ""], "at least one"),
    (["--permissions", ","], "at least one"),
    (["--permissions", "admin"], "unknown permission"),
    (["--permissions", "read,,write"], "empty item"),
    (["--expires", "0d"], "at least 1"),
    (["--expires=-1d"], "future"),
    (["--expires", "-1d"], "future"),  # not argparse's "expected one argument"
    (["--expires", "\u0661d"], "not understood"),  # an Arabic-Indic digit is no digit here
    (["--expires", "\uff11d"], "not understood"),  # nor a full-width one
    (["--store", ""], "--store is empty"),
    (["--expires", "5"], "no unit"),
    (["--expires", "5m"], "unknown unit"),
    (["--expires", "soon"], "not understood"),
    (["--expires", "2020-01-01"], "not in the future"),
    (["--expires", "11y"], "10-year maximum"),
    (["--expires", "99999999999999999999d"], "10-year maximum"),
    (["--expires", "2027-02-30"], "not understood"),
    (["--expires", "9999-12-31"], "10 years"),
    (["--expires", ""], "empty"),
    (["--bogus"], "unrecognized arguments"),
    (["--name"], "expected one argument"),
]


@pytest.mark.parametrize(("args", "expect"), BAD_CREATE, ids=[repr(a) for a, _ in BAD_CREATE])
def test_bad_create_input(seeded: Seeded, args: list[str], expect: str) -> None:
    cli, before, _ = seeded
    result = cli("token", "create", *args)
    assert_one_line_error(result, 2, expect)
    assert cli.store.read_bytes() == before


def test_name_equal_to_another_tokens_id(seeded: Seeded) -> None:
    cli, before, token_id = seeded
    assert_one_line_error(cli("token", "create", "--name", token_id), 2, "another token's id")
    assert cli.store.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["token", "show", "nope"],
        ["token", "delete", "nope", "--yes"],
        ["token", "delete", "existing", "nope", "--yes"],  # all or nothing
        ["token", "rotate", "nope"],
    ],
)
def test_unknown_token_exit_1(seeded: Seeded, args: list[str]) -> None:
    cli, before, _ = seeded
    assert_one_line_error(cli(*args), 1, "no token with id or name 'nope'")
    assert cli.store.read_bytes() == before


def test_rotate_bad_expiry(seeded: Seeded) -> None:
    cli, before, _ = seeded
    assert_one_line_error(cli("token", "rotate", "existing", "--expires", "0h"), 2, "at least 1")
    assert cli.store.read_bytes() == before


def test_unknown_reference_is_escaped(seeded: Seeded) -> None:
    cli, _, _ = seeded
    result = cli("token", "show", "\x1b]0;pwned\x07")
    assert_one_line_error(result, 1, "no token")
    assert "\\x1b]0;pwned\\x07" in result.err


def test_token_pasted_into_argv_is_not_echoed(seeded: Seeded) -> None:
    cli, _, _ = seeded
    secret = cli("token", "create", "--quiet").out.strip()
    result = cli("token", "check", "GET", "/x", secret)
    assert_one_line_error(result, 2, "unrecognized arguments")
    assert secret not in result.err
    assert secret[5:] not in result.err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["token"],
        ["token", "frobnicate"],
        ["nonsense"],
        ["token", "delete"],
        ["token", "check", "GET"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.code == 2
    assert "Traceback" not in result.err
