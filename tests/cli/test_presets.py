"""`--preset NAME` on `token create`, `token edit` and `pair`, and `policy
--presets`: the same presets the TUI offers (core/authz/presets.py), refused in
one line when unknown or given with `--permissions`, the store untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.authz.policy import default_policy
from core.authz.presets import PRESETS
from core.cli.policy import presets_markdown
from tests.cli.conftest import Cli, assert_one_line_error

PERMISSIONS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
PAIR = ("pair", "--url", "https://gw.example:4097")


@pytest.fixture
def seeded(cli: Cli) -> bytes:
    assert cli("token", "create", "existing", "--quiet").code == 0
    return cli.store.read_bytes()


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_create_with_a_preset_stores_its_permissions(cli: Cli, preset: object) -> None:
    from core.authz.presets import Preset

    assert isinstance(preset, Preset)
    result = cli("token", "create", "client", "--preset", preset.name, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["permissions"] == [p.value for p in preset.permissions]


def test_the_confirmation_and_show_name_the_preset(cli: Cli) -> None:
    created = cli("token", "create", "viewer", "--preset", "WATCH")  # any case
    assert created.code == 0, created.err
    first = created.out.splitlines()[0]
    assert first.startswith("Created token 'viewer' (id ")
    assert ": read, execute (preset watch: watch sessions); expires " in first
    shown = cli("token", "show", "viewer").out
    assert "permissions  read, execute (preset watch: watch sessions)" in shown
    # a set no preset makes is shown as it is
    assert cli("token", "create", "odd", "--permissions", "write", "--quiet").code == 0
    assert "permissions  write\n" in cli("token", "show", "odd").out


def test_edit_with_a_preset(cli: Cli, seeded: bytes) -> None:
    result = cli("token", "edit", "existing", "--preset", "files")
    assert result.code == 0, result.err
    assert "Edited token 'existing'" in result.out and ": permissions." in result.out
    assert "read (preset files: files and search only)" in result.out
    listed = json.loads(cli("token", "list", "--json", "permissions").out)
    assert listed == [{"permissions": ["read"]}]


def test_pair_with_a_preset(cli: Cli) -> None:
    result = cli(*PAIR, "--preset", "watch", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["token"]["permissions"] == ["read", "execute"]


COMMANDS = [
    ("token", "create", "new"),
    ("token", "edit", "existing"),
    PAIR,
]
HELP = {"token": 2, "pair": 1}
"""How many words of each command name it (`token create`, `pair`)."""


def named(command: tuple[str, ...]) -> str:
    return " ".join(command[: HELP[command[0]]])


@pytest.mark.parametrize("command", COMMANDS, ids=named)
@pytest.mark.parametrize("name", ["bogus", "", "rwx", "watch\x1b[2J"])
def test_an_unknown_preset_is_one_line_naming_every_preset(
    cli: Cli, seeded: bytes, command: tuple[str, ...], name: str
) -> None:
    result = cli(*command, "--preset", name)
    assert_one_line_error(result, 2, "unknown preset")
    for preset in PRESETS:
        assert f"{preset.name} ({preset.title})" in result.err
    assert cli.store.read_bytes() == seeded
    assert "ocat_" not in result.out and "ocpair_" not in result.out


@pytest.mark.parametrize("command", COMMANDS, ids=named)
def test_preset_and_permissions_exclude_each_other(
    cli: Cli, seeded: bytes, command: tuple[str, ...]
) -> None:
    result = cli(*command, "--preset", "full", "--permissions", "read")
    assert_one_line_error(result, 2, "--permissions: not allowed with argument --preset")
    assert result.err.endswith(f"(see `opencode-auth-tui {named(command)} --help`)\n")
    assert cli.store.read_bytes() == seeded


@pytest.mark.parametrize("command", COMMANDS, ids=named)
def test_help_lists_the_presets(cli: Cli, command: tuple[str, ...]) -> None:
    out = cli(*named(command).split(), "--help").out
    assert "--permissions LIST | --preset NAME" in out
    flat = " ".join(out.split())
    for preset in PRESETS:
        assert f"{preset.name}: {preset.title}" in flat
    assert "policy --presets" in flat


# --- policy --presets --------------------------------------------------------------


def test_policy_presets_lists_each_with_what_it_is_for(cli: Cli) -> None:
    result = cli("policy", "--presets")
    assert result.code == 0 and result.err == ""
    out = result.out
    assert "token create NAME --preset PRESET" in out
    total = len(default_policy())
    assert f"  full   full client            rwx  all {total} operations" in out
    for preset in PRESETS:
        passed = len(preset.operations())
        assert f"  {preset.name:<6} {preset.title:<22} " in out
        assert f"{passed} " in out
        assert " ".join(preset.purpose.split()) in " ".join(out.split())
    assert all(len(line) <= 80 for line in out.splitlines())


def test_policy_presets_json_is_the_presets(cli: Cli) -> None:
    data = json.loads(cli("policy", "--presets", "--json").out)
    assert [d["name"] for d in data] == [p.name for p in PRESETS]
    for entry, preset in zip(data, PRESETS, strict=True):
        assert entry == {
            "name": preset.name,
            "title": preset.title,
            "permissions": [p.value for p in preset.permissions],
            "purpose": preset.purpose,
            "operations": len(preset.operations()),
        }


def test_policy_presets_markdown_is_the_docs_table(cli: Cli) -> None:
    """docs/permissions.md's presets table is generated (`policy --presets --markdown`), so
    it cannot drift from the presets or the policy."""
    result = cli("policy", "--presets", "--markdown")
    assert result.code == 0
    assert result.out == presets_markdown(default_policy())
    text = PERMISSIONS_PAGE.read_text()
    start = text.index("\n", text.index("<!-- presets-table")) + 1
    end = text.index("<!-- /presets-table -->")
    assert text[start:end] == result.out


def test_policy_presets_and_diff_exclude_each_other(cli: Cli) -> None:
    assert_one_line_error(cli("policy", "--presets", "--diff", "x.json"), 2, "exclude each other")


def test_plain_policy_points_to_the_presets(cli: Cli) -> None:
    assert cli("policy").out.splitlines()[-1] == (
        "Permission sets for common clients: opencode-auth-tui policy --presets"
    )
