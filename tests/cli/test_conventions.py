"""The command line as gh and npm users expect it: `token create NAME`, `revoke`
and `ls`, an unknown argument pointing to that command's `--help`, no `--store`
offered where it means nothing, and counts in words ("1 token", "2 tokens")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, assert_one_line_error
from tests.cli.test_migrate_schema import LEGACY

# --- token create NAME --------------------------------------------------------------


def test_create_takes_a_positional_name(cli: Cli) -> None:
    result = cli("token", "create", "ci-bot", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["name"] == "ci-bot"


def test_the_same_name_twice_is_fine(cli: Cli) -> None:
    result = cli("token", "create", "ci-bot", "--name", "ci-bot", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["name"] == "ci-bot"


def test_two_different_names_are_refused_and_nothing_is_made(cli: Cli) -> None:
    assert cli("token", "create", "first", "--quiet").code == 0
    before = cli.bytes()
    result = cli("token", "create", "ci-bot", "--name", "deploy")
    assert_one_line_error(result, 2, "two names given, 'ci-bot' and --name 'deploy'")
    assert "give the name once" in result.err
    assert cli.bytes() == before


def test_a_positional_name_follows_the_name_rules(cli: Cli) -> None:
    before = cli.bytes()
    assert_one_line_error(cli("token", "create", "x" * 65), 2, "maximum is 64")
    assert_one_line_error(cli("token", "create", "a\x1b[31m"), 2, "control character")
    assert cli.bytes() == before


def test_a_secret_given_as_both_names_is_not_echoed(cli: Cli) -> None:
    secret = "ocat_3VDgZazynFNLblzzVqH0Fe0iZcj9"
    result = cli("token", "create", secret, "--name", "other")
    assert_one_line_error(result, 2, "two names given")
    assert secret not in result.err and "ocat_…(redacted)" in result.err


def test_only_one_positional_name(cli: Cli) -> None:
    result = cli("token", "create", "a", "b")
    assert_one_line_error(result, 2, "unrecognized arguments: b")
    assert cli.bytes() is None


# --- revoke, ls ---------------------------------------------------------------------


@pytest.mark.parametrize("spelling", [["token", "revoke"], ["revoke"], ["token", "delete"]])
def test_revoke_is_delete(cli: Cli, spelling: list[str]) -> None:
    assert cli("token", "create", "a", "--quiet").code == 0
    assert cli("token", "create", "b", "--quiet").code == 0
    result = cli(*spelling, "a", "--yes")
    assert result.code == 0, result.err
    assert result.out.startswith("Deleted token 'a' (id ")
    assert [t["name"] for t in json.loads(cli("token", "list", "--json").out)] == ["b"]


def test_revoke_asks_like_delete(cli: Cli) -> None:
    assert cli("token", "create", "a", "--quiet").code == 0
    before = cli.bytes()
    result = cli("revoke", "a")  # no terminal, no --yes
    assert_one_line_error(result, 2, "pass --yes")
    assert cli.bytes() == before


def test_ls_is_list(cli: Cli) -> None:
    assert cli("token", "create", "a", "--quiet").code == 0
    assert cli("token", "ls").out == cli("token", "list").out
    assert cli("token", "ls", "--json", "name").out == cli("token", "list", "--json", "name").out


def test_the_help_names_the_aliases(cli: Cli) -> None:
    token_help = cli("token", "--help").out
    assert "list (ls)" in token_help and "delete (revoke)" in token_help
    main_help = cli("--help").out
    assert "\n    revoke " in main_help and "token delete" in main_help


# --- an unknown argument points to the command's --help -------------------------------

UNKNOWN = [
    (["token", "create", "--bogus"], "token create"),
    (["token", "list", "extra"], "token list"),
    (["token", "ls", "--bogus"], "token list"),
    (["revoke", "a", "--bogus"], "revoke"),
    (["token", "--bogus"], "token"),
    (["session", "end", "x", "--bogus"], "session end"),
    (["db", "init", "--bogus"], "db init"),
    (["policy", "--bogus"], "policy"),
    (["policy", "--store", "x.json"], "policy"),
    (["schema", "--store", "x.json"], "schema"),
    (["gateway", "--bogus"], "gateway"),
    (["forward-auth", "--bogus"], "forward-auth"),
    (["--bogus"], ""),
]


@pytest.mark.parametrize(("args", "command"), UNKNOWN, ids=[" ".join(a) for a, _ in UNKNOWN])
def test_an_unknown_argument_points_to_that_commands_help(
    cli: Cli, args: list[str], command: str
) -> None:
    result = cli(*args)
    assert_one_line_error(result, 2, "unrecognized arguments: ")
    prog = f"opencode-auth-tui {command}".rstrip()
    assert result.err.endswith(f"(see `{prog} --help`)\n"), result.err
    assert cli.bytes() is None


def test_a_bad_value_points_to_that_commands_help(cli: Cli) -> None:
    result = cli("gateway", "--max-headers", "x")
    assert_one_line_error(result, 2, "--max-headers")
    assert result.err.endswith("(see `opencode-auth-tui gateway --help`)\n")


def test_a_secret_in_an_unknown_argument_is_not_echoed(cli: Cli) -> None:
    secret = "ocat_3VDgZazynFNLblzzVqH0Fe0iZcj9"
    result = cli("token", "list", secret)
    assert_one_line_error(result, 2, "unrecognized arguments")
    assert secret not in result.err


# --- --store only where it means something ---------------------------------------------


@pytest.mark.parametrize("command", ["policy", "schema"])
def test_commands_without_a_store_do_not_offer_store(cli: Cli, command: str) -> None:
    assert "--store" not in cli(command, "--help").out
    # before the command, --store is the program's (and ignored by these)
    assert cli("--store", "/nonexistent/dir/x.json", command).code == 0


def test_json_fields_in_the_help_as_gh_shows_them(cli: Cli) -> None:
    for command in (["token", "list"], ["token", "show"], ["session", "list"]):
        out = cli(*command, "--help").out
        assert "[--json [FIELDS]]" in out, command


# --- counts in words -------------------------------------------------------------------


def test_delete_asks_about_one_token_or_several(cli: Cli) -> None:
    for name in ("a", "b"):
        assert cli("token", "create", name, "--quiet").code == 0
    one = cli("token", "delete", "a", stdin="n\n", stdin_tty=True)
    assert "Delete token 'a' (id " in one.err and "Clients using it will" in one.err
    two = cli("token", "delete", "a", "b", stdin="n\n", stdin_tty=True)
    assert "Delete 2 tokens 'a' (id " in two.err and "Clients using them will" in two.err


def test_export_and_migrate_count_in_words(cli: Cli, tmp_path: Path) -> None:
    assert cli("token", "create", "only", "--quiet").code == 0
    target = tmp_path / "copy.json"
    result = cli("export", "--to", str(target))
    assert result.code == 0, result.err
    assert result.out.startswith(f"1 token in {cli.store}: 1 copied to ")
    legacy = tmp_path / "old.json"
    legacy.write_text(json.dumps([LEGACY[0]]))
    legacy.chmod(0o600)
    migrated = cli("--store", str(legacy), "migrate", "--yes")
    assert migrated.code == 0, migrated.err
    assert migrated.out.startswith("Migrated 1 token; ")


def test_no_plural_after_one_anywhere_the_cli_counts(cli: Cli) -> None:
    """One session ended, one browser signed in, one row of a kind: never "1 tokens"."""
    assert cli("token", "create", "phone", "--quiet").code == 0
    cli.core().create_session("phone", client="192.0.2.7", user_agent="UA")
    shown = cli("token", "show", "phone").out
    assert "1 browser signed in" in shown
    edited = cli("token", "edit", "phone", "--expires", "10d")
    assert "Ended 1 browser session of the token." in edited.err
    cli.core().create_session("phone", client="192.0.2.7", user_agent="UA")
    assert cli("token", "logout", "phone").out.startswith("Ended 1 session of token 'phone'")
    outputs = [shown, edited.out, edited.err, cli("policy").out]
    for text in outputs:
        for noun in ("tokens", "sessions", "browsers", "operations", "need "):
            assert f" 1 {noun}" not in text and f"\n1 {noun}" not in text, (noun, text)


def test_an_empty_list_shows_the_positional_name(cli: Cli) -> None:
    result = cli("token", "list")
    assert result.code == 0 and result.out == ""
    assert result.err.splitlines()[-1] == "Create one with: opencode-auth-tui token create NAME"
    assert cli.bytes() is None  # listing makes no store
