"""The JS SDK (npm @opencode-ai/sdk, opencode's version) through
tests/clients/sdk_list_sessions.mjs: directly with opencode's password, and with a token
through the gateway and through nginx + forward-auth.

opencode itself knows only Basic credentials with the username `opencode`; the gateway
and forward-auth take `Authorization: Bearer <token>`, or Basic with the token as the
password and any username. The script prints `{"ok": false, "status": N, "error": ...}`
and exits 1 on an HTTP error; `error` is the parsed JSON body the SDK returns - the
gateway's, and forward-auth's through nginx (its config answers a refusal with that JSON,
not with its own HTML page).
"""

from __future__ import annotations

import pytest

from tests.clients import harness


def test_sdk_lists_sessions_directly(node_sdk: str, opencode_server: harness.Server) -> None:
    status, out = harness.run_sdk(
        opencode_server.url, opencode_server.password, scheme="basic", node=node_sdk
    )
    assert status == 0, out
    assert out["ok"] is True and out["status"] == 200
    assert harness.SESSION_TITLE in [s["title"] for s in out["sessions"]]
    assert out["sdk"] == harness.sdk_version()


def test_sdk_bearer_is_not_understood_by_opencode_itself(
    node_sdk: str, opencode_server: harness.Server
) -> None:
    status, out = harness.run_sdk(
        opencode_server.url, opencode_server.password, scheme="bearer", node=node_sdk
    )
    assert (status, out["status"]) == (1, 401), out
    assert opencode_server.password not in repr(out)


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_sdk_lists_sessions_with_a_token(
    node_sdk: str,
    opencode_server: harness.Server,
    front: harness.Front,
    tokens: harness.Tokens,
    scheme: str,
) -> None:
    mark = front.mark()
    status, out = harness.run_sdk(front.url, tokens.secrets["rx"], scheme=scheme, node=node_sdk)
    assert status == 0, out
    assert out["ok"] is True and out["status"] == 200
    assert harness.SESSION_TITLE in [s["title"] for s in out["sessions"]]
    rows = front.rows(mark, 1)
    assert [(r["path"], r["status"], r["token_id"]) for r in rows] == [
        ("/session", 200, tokens.ids["rx"])
    ]


def test_sdk_lists_sessions_of_the_served_directory(
    node_sdk: str, opencode_server: harness.Server, gateway: harness.Front, tokens: harness.Tokens
) -> None:
    # With the SDK's `directory` option a GET carries ?directory= (the header is dropped).
    status, out = harness.run_sdk(
        gateway.url, tokens.secrets["rx"], directory=opencode_server.project, node=node_sdk
    )
    assert status == 0, out
    assert {s["directory"] for s in out["sessions"]} == {str(opencode_server.project)}


def test_sdk_with_another_directory_gets_403(
    node_sdk: str, opencode_server: harness.Server, front: harness.Front, tokens: harness.Tokens
) -> None:
    outside = opencode_server.home / "outside"
    status, out = harness.run_sdk(
        front.url, tokens.secrets["rwx"], directory=outside, node=node_sdk
    )
    assert (status, out["status"]) == (1, 403), out
    assert out["error"] == {
        "error": "directory_not_allowed",
        "required": ["read", "execute"],
        "granted": ["read", "write", "execute"],
        "message": f"{outside} is outside the directories this server serves",
    }


def test_sdk_with_a_read_only_token_gets_the_gateways_403(
    node_sdk: str, front: harness.Front, tokens: harness.Tokens
) -> None:
    # Through nginx too: its config answers a refusal with forward-auth's JSON (the
    # SDK once handed back nginx's HTML page, "<title>403 Forbidden</title>", as the
    # error).
    mark = front.mark()
    status, out = harness.run_sdk(front.url, tokens.secrets["r"], node=node_sdk)
    assert (status, out["ok"], out["status"]) == (1, False, 403), out
    assert out["error"] == {
        "error": "insufficient_scope",
        "required": ["read", "execute"],
        "granted": ["read"],
        "message": "GET /session needs read and execute; this token has read "
        "(lists the directory's sessions (titles, ids))",
    }
    assert tokens.secrets["r"] not in repr(out)
    rows = front.rows(mark, 1)
    assert [(r["status"], r["reason"], r["token_id"]) for r in rows] == [
        (403, "insufficient_scope", tokens.ids["r"])
    ]


def test_sdk_with_an_unknown_token_gets_401(node_sdk: str, front: harness.Front) -> None:
    status, out = harness.run_sdk(front.url, harness.unissued_token(), node=node_sdk)
    assert (status, out["status"]) == (1, 401), out
    assert out["error"]["error"] == "unknown_token"
    assert out["error"]["message"] == (
        "this token is not in the store: it was deleted, rotated or never issued"
    )
