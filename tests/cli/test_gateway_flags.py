"""The `gateway`/`forward-auth` flags, checked before anything starts: a bad value
is one line and exit 2, on the same printers and exit codes as every command.
(The servers themselves are tested in tests/gateway.)"""

from __future__ import annotations

import pytest

from core.cli.console import TestConsole
from core.cli.parser import build_parser
from tests.cli.conftest import Cli, assert_one_line_error

SECONDS_FLAGS = [
    # (command, flag, whether 0 is allowed, what 0 means in --help)
    ("gateway", "--header-timeout", False, None),
    ("forward-auth", "--header-timeout", False, None),
    ("gateway", "--shutdown-timeout", True, None),
    ("forward-auth", "--shutdown-timeout", True, None),
    ("gateway", "--connect-timeout", True, "no limit"),
    ("gateway", "--upstream-timeout", True, "no limit"),
    ("gateway", "--client-timeout", True, None),
]


@pytest.mark.parametrize(("command", "flag", "zero_ok", "zero_means"), SECONDS_FLAGS)
def test_seconds_flags(
    cli: Cli, command: str, flag: str, zero_ok: bool, zero_means: str | None
) -> None:
    for bad, said in (
        ("soon", "'soon' is not a number of seconds"),
        ("-1", f"{flag}: expected"),
        ("86401", "up to 86400"),
        ("nan", "up to 86400"),
    ):
        result = cli(command, f"{flag}={bad}", "--listen", "127.0.0.1:0")
        assert_one_line_error(result, 2, said)
        assert f"argument {flag}:" in result.err
    parse = build_parser(TestConsole()).parse_args
    option = flag[2:].replace("-", "_")
    assert getattr(parse([command, flag, "2.5"]), option) == 2.5
    if zero_ok:
        assert getattr(parse([command, flag, "0"]), option) == 0
    else:
        assert_one_line_error(cli(command, flag, "0"), 2, f"{flag}: expected a number")
    help_text = " ".join(cli(command, "--help").out.split())
    default = f"(default {getattr(parse([command]), option):g}"
    assert (default + "; 0 = no limit)" in help_text) == (zero_means == "no limit")
    assert default in help_text


def test_count_flags_are_whole_numbers_in_range(cli: Cli) -> None:
    for args in (["--max-headers", "7"], ["--max-connections", "0"], ["--max-headers", "1e3"]):
        assert_one_line_error(cli("gateway", *args), 2, "expected a whole number from")


def test_forward_auth_refusals_happen_before_anything_starts(cli: Cli) -> None:
    assert_one_line_error(cli("forward-auth"), 2, "needs the directories opencode may")
    result = cli("forward-auth", "--any-directory", "--listen", "0.0.0.0:0")
    assert_one_line_error(result, 2, "refusing to listen on 0.0.0.0:0")
