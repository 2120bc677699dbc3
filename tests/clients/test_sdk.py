"""The JS SDK (npm @opencode-ai/sdk, opencode's version) through
tests/clients/sdk_list_sessions.mjs, against a real `opencode serve`.

opencode itself knows only Basic credentials, so directly the script is proven with
`basic`; a Bearer header (what the gateway accepts) gets opencode's 401, which shows
that the script reports an HTTP error with its status and a non-zero exit.
"""

from __future__ import annotations

from tests.clients import harness


def test_sdk_lists_sessions(node_sdk: str, opencode_server: harness.Server) -> None:
    status, out = harness.run_sdk(
        opencode_server.url, opencode_server.password, scheme="basic", node=node_sdk
    )
    assert status == 0, out
    assert out["ok"] is True and out["status"] == 200
    assert harness.SESSION_TITLE in [s["title"] for s in out["sessions"]]
    assert out["sdk"] == harness.sdk_version()


def test_sdk_lists_sessions_of_a_directory(node_sdk: str, opencode_server: harness.Server) -> None:
    # With the SDK's `directory` option a GET carries ?directory= (the header is dropped).
    status, out = harness.run_sdk(
        opencode_server.url,
        opencode_server.password,
        scheme="basic",
        directory=opencode_server.project,
        node=node_sdk,
    )
    assert status == 0, out
    assert {s["directory"] for s in out["sessions"]} == {str(opencode_server.project)}


def test_sdk_script_fails_on_an_http_error(node_sdk: str, opencode_server: harness.Server) -> None:
    status, out = harness.run_sdk(
        opencode_server.url, "not-the-password", scheme="basic", node=node_sdk
    )
    assert status == 1, out
    assert out["ok"] is False and out["status"] == 401
    assert "not-the-password" not in repr(out)


def test_sdk_bearer_is_not_understood_by_opencode_itself(
    node_sdk: str, opencode_server: harness.Server
) -> None:
    status, out = harness.run_sdk(
        opencode_server.url, opencode_server.password, scheme="bearer", node=node_sdk
    )
    assert status == 1, out
    assert out["status"] == 401
