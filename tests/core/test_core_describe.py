"""What a token can and cannot do, in words, from its permissions and directories."""

from __future__ import annotations

from pathlib import Path

from core.describe import abilities
from core.permissions import Permission

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE
HOME = Path("/home/u")


def test_a_read_token_reads_files_and_runs_nothing() -> None:
    found = abilities((R,), ["/home/u/src/app"], HOME)
    assert found.where == "in ~/src/app"
    assert found.can == ("read and search the project's files, git status and diffs",)
    assert "run commands or steer the agent" in found.cannot
    assert "read sessions, the config, API keys or event streams" in found.cannot
    assert found.sentence().startswith("in ~/src/app: read and search")


def test_execute_with_read_reads_sessions_but_runs_nothing() -> None:
    found = abilities((R, X))
    assert found.where == "in every directory the server serves"
    assert any("sessions" in line for line in found.can)
    assert "run commands or steer the agent" in found.cannot


def test_a_full_token_in_a_directory_is_told_commands_reach_further() -> None:
    found = abilities((R, W, X), ["/srv/app"], HOME)
    assert found.cannot == ()
    assert "beyond those directories" in found.can[-1]
    assert "beyond" not in " ".join(abilities((R, W, X)).can)  # no directories: nothing to say


def test_execute_alone_passes_nothing() -> None:
    found = abilities((X,))
    assert found.can == ()
    assert found.cannot == ("pass any request (it needs read or write too)",)
