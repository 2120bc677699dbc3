"""`opencode attach URL -p PASSWORD`, opencode's own TUI, under tmux against a real
`opencode serve`: it sends `Authorization: Basic base64(opencode:PASSWORD)`."""

from __future__ import annotations

from tests.clients import harness


def test_attach_reaches_the_connected_screen(
    opencode_binary: str, opencode_server: harness.Server, tmux: harness.Tmux
) -> None:
    tmux.start(
        harness.attach_argv(opencode_binary, opencode_server.url, opencode_server.password),
        harness.client_env(tmux.home),
        cwd=tmux.home,
    )
    # The status line names the server's directory (attach sends none of its own);
    # it may be drawn a moment after the prompt.
    project = str(opencode_server.project)
    screen = tmux.wait_for(
        lambda s: harness.attach_connected(s) and project in s, "attach's connected screen"
    )
    assert "[exit" not in screen


def test_attach_with_a_wrong_password_says_401_and_exits(
    opencode_binary: str, opencode_server: harness.Server, tmux: harness.Tmux
) -> None:
    tmux.start(
        harness.attach_argv(opencode_binary, opencode_server.url, "not-the-password"),
        harness.client_env(tmux.home),
        cwd=tmux.home,
    )
    screen = tmux.wait_for(lambda s: "[exit" in s, "attach to give up")
    # e.g. "Error: opencode server GET http://127.0.0.1:PORT/config/providers →
    # 401 Unauthorized: (empty response body)" and a stack trace; exit status 1.
    assert "401 Unauthorized" in screen
    assert "[exit 1]" in screen
    assert not harness.attach_connected(screen)
