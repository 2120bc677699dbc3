"""`--directory` on create, edit, rotate and pair: a relative directory is taken
from the current folder - said, never silent - and shown absolute in the
confirmation; a directory that does not exist is a warning, not an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current folder holding the project `app`."""
    (tmp_path / "work" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path / "work" / "app"


def test_create_resolves_a_relative_directory_and_shows_it_absolute(
    cli: Cli, project: Path
) -> None:
    result = cli("token", "create", "ci", "--directory", "app")
    assert result.code == 0, result.err
    first = result.out.splitlines()[0]
    assert first.endswith(f"; only in {project}")
    assert f"the directory 'app' is taken as {project}, from the current folder" in result.err
    assert "warning" not in result.err
    record = json.loads(cli("token", "show", "ci", "--json").out)
    assert record["directories"] == [str(project)]


def test_an_absolute_directory_is_taken_as_it_is_without_a_note(cli: Cli, project: Path) -> None:
    result = cli("token", "create", "ci", "--directory", str(project))
    assert result.code == 0
    assert "taken as" not in result.err and "warning" not in result.err
    assert result.out.splitlines()[0].endswith(f"; only in {project}")


def test_a_missing_directory_is_a_warning_and_the_token_is_made(cli: Cli, project: Path) -> None:
    later = project.parent / "not-cloned-yet"
    result = cli("token", "create", "ci", "--directory", "not-cloned-yet", "--quiet")
    assert result.code == 0, result.err
    assert result.out.startswith("ocat_")
    warnings = [line for line in result.err_lines if "warning:" in line]
    assert warnings == [
        f"opencode-auth-tui: warning: the directory {later} does not exist (yet); the token "
        "is limited to it all the same"
    ]
    assert json.loads(cli("token", "list", "--json", "directories").out) == [
        {"directories": [str(later)]}
    ]


def test_a_refused_directory_is_only_the_error(cli: Cli, project: Path) -> None:
    """No note or warning before the error: nothing was made."""
    result = cli("token", "create", "ci", "--directory", "bad\x1b[31m")
    assert result.code == 2
    assert len(result.err_lines) == 1 and "error:" in result.err
    assert cli.bytes() is None


def test_edit_rotate_and_pair_resolve_the_same_way(cli: Cli, project: Path) -> None:
    assert cli("token", "create", "ci", "--quiet").code == 0
    edited = cli("token", "edit", "ci", "--directory", "app")
    assert edited.code == 0, edited.err
    assert f"directories  {project}" in edited.out
    assert "'app' is taken as" in edited.err
    rotated = cli("token", "rotate", "ci", "--directory", "./app/", "--directory", "gone")
    assert rotated.code == 0, rotated.err
    assert rotated.out.splitlines()[0].endswith(f"; only in {project}, {project.parent}/gone")
    assert "'./app/' is taken as" in rotated.err and "'gone' is taken as" in rotated.err
    assert f"the directory {project.parent}/gone does not exist" in rotated.err
    paired = cli("pair", "--url", "https://gw.example:4097", "--directory", "app")
    assert paired.code == 0, paired.err
    assert paired.out.splitlines()[0].endswith(f"; only in {project}")
    assert "'app' is taken as" in paired.err


def test_a_home_directory_is_expanded_not_called_relative(cli: Cli, project: Path) -> None:
    home = Path(cli.env["HOME"])
    (home / "src").mkdir()
    result = cli("token", "create", "ci", "--directory", "~/src")
    assert result.code == 0
    assert result.out.splitlines()[0].endswith(f"; only in {home}/src")
    assert "taken as" not in result.err
