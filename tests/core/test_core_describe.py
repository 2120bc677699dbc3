"""What a token can and cannot do, in words, from its permissions and directories."""

from __future__ import annotations

from pathlib import Path

from core.model.permissions import Permission
from core.present import abilities

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE
HOME = Path("/home/u")


def test_a_read_token_reads_files_and_runs_nothing() -> None:
    found = abilities((R,), ["/home/u/src/app"], HOME)
    assert found.where == "in ~/src/app"
    assert found.can == (
        "list and read the project's files except opencode's config files, "
        "find files by name, git status",
    )
    assert "run commands or steer the agent" in found.cannot
    assert (
        "search inside files, read diffs, opencode's config files, sessions, the config, "
        "API keys or event streams"
    ) in found.cannot
    assert found.sentence().startswith("can list and read")
    assert "; cannot " in found.sentence()


def test_the_words_follow_the_policy() -> None:
    """What read alone is said to do is what the policy gives it: content searches
    and diffs need execute (they reach opencode's config files), and the routes that
    return a file's bytes hold its config files back (core.authz.scope)."""
    from core.authz.policy import default_policy

    by_name = {rule.name: rule for rule in default_policy()}
    for name in ("GET /find", "GET /vcs/diff", "GET /vcs/diff/raw"):
        assert by_name[name].needs == {R, X}, name
    for name in ("GET /find/file", "GET /api/fs/find", "GET /vcs/status", "GET /file"):
        assert by_name[name].needs == {R}, name
    for name in ("GET /file/content", "GET /api/fs/read/*"):
        assert by_name[name].needs == {R} and by_name[name].content, name


def test_execute_with_read_reads_sessions_but_runs_nothing() -> None:
    found = abilities((R, X))
    assert found.where == "in every directory the server serves"
    assert any("sessions" in line and "opencode's config files" in line for line in found.can)
    assert any(line.startswith("search inside files, read diffs") for line in found.can)
    assert "run commands or steer the agent" in found.cannot


def test_execute_lifts_the_config_file_exception_of_read() -> None:
    with_execute = abilities((R, X)).can
    assert with_execute[0] == "list and read the project's files, find files by name, git status"
    assert "except" not in " ".join(with_execute)
    assert "except opencode's config files" in abilities((R, W)).can[0]


def test_a_full_token_in_a_directory_is_told_commands_reach_further() -> None:
    found = abilities((R, W, X), ["/srv/app"], HOME)
    assert found.cannot == ()
    assert "beyond those directories" in found.can[-1]
    assert "beyond" not in " ".join(abilities((R, W, X)).can)  # no directories: nothing to say


def test_execute_alone_passes_nothing() -> None:
    found = abilities((X,))
    assert found.can == ()
    assert found.cannot == ("pass any request (it needs read or write too)",)
