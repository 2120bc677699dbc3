"""The gateway decides every request with core's rules and forwards only allowed
ones, with opencode's credentials instead of the client's."""

from __future__ import annotations

import base64
import json

from yarl import URL

from tests.gateway.conftest import PASSWORD, Tokens, bad_checksum, gateway_harness

BASIC = "Basic " + base64.b64encode(f"opencode:{PASSWORD}".encode()).decode()


async def test_allowed_request_reaches_opencode_with_its_basic_credentials(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(f"{h.url}/vcs?x=1", headers=h.bearer("r")) as resp:
            assert resp.status == 200
            assert (await resp.json())["raw_path"] == "/vcs?x=1"
            assert resp.headers["X-Upstream"] == "yes"
        seen = h.upstream.last()
        assert seen.headers["authorization"] == [BASIC]
        assert tokens.secrets["r"] not in json.dumps(seen.headers)


async def test_permission_matrix_on_representative_requests(tokens: Tokens) -> None:
    cases = [
        ("GET", "/vcs", {"r", "rw", "rx", "rwx"}),
        ("GET", "/config", {"rx", "rwx"}),  # the config can hold API keys
        ("GET", "/session", {"rx", "rwx"}),
        ("POST", "/session", {"wx", "rwx"}),
        ("POST", "/log", {"w", "rw", "wx", "rwx"}),
        ("PATCH", "/config", {"wx", "rwx"}),  # the config decides what runs
        ("POST", "/mcp", {"wx", "rwx"}),  # a local MCP server is a command
        ("DELETE", "/pty/pty_1", {"wx", "rwx"}),
        ("GET", "/session/ses_1/message", {"rx", "rwx"}),
        ("OPTIONS", "/vcs", {"r", "rw", "rx", "rwx"}),
        ("PATCH", "/global/../session", {"rwx"}),  # no route: unclassified
        ("GET", "/%73ession", {"rx", "rwx"}),
        ("POST", "/vcs", {"rwx"}),  # no such operation: all three
    ]
    async with gateway_harness(tokens) as h:
        h.upstream.sessions["ses_1"] = "/srv/fake-project"
        for method, path, allowed in cases:
            for name in ("r", "w", "x", "rw", "rx", "wx", "rwx"):
                async with h.client.request(
                    method, URL(h.url + path, encoded=True), headers=h.bearer(name)
                ) as resp:
                    want = 200 if name in allowed else 403
                    assert resp.status == want, (method, path, name, resp.status)


async def test_health_is_public_and_nothing_else_is(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(f"{h.url}/global/health") as resp:
            assert resp.status == 200
        for path in ("/global/health/x", "/global/healthz", "/vcs", "/"):
            async with h.client.get(f"{h.url}{path}") as resp:
                assert resp.status == 401, path


async def test_401_bodies_and_challenges(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        cases = [
            ({}, "missing_token", 'Bearer realm="opencode"'),
            ({"Authorization": "Basic dXNlcjpwdw=="}, "malformed", 'error="invalid_token"'),
            ({"Authorization": "Bearer"}, "malformed", 'error="invalid_token"'),
            ({"Authorization": "Bearer nope"}, "malformed", 'error="invalid_token"'),
            (
                {"Authorization": "Bearer " + bad_checksum(tokens.secrets["rwx"])},
                "bad_checksum",
                'error="invalid_token"',
            ),
            (tokens.bearer("expired"), "expired", 'error="invalid_token"'),
        ]
        for headers, reason, challenge in cases:
            async with h.client.get(f"{h.url}/session", headers=headers) as resp:
                assert resp.status == 401, reason
                body = await resp.json()
                assert body["error"] == reason
                assert body["required"] == ["read", "execute"]
                assert "granted" in body
                basic, bearer = resp.headers.getall("WWW-Authenticate")
                assert basic == 'Basic realm="opencode"'  # a browser prompts
                assert challenge in bearer
                if reason == "missing_token":  # RFC 6750: no error code without credentials
                    assert "error=" not in bearer
                assert resp.headers["Cache-Control"] == "no-store"
        assert h.upstream.seen == []  # nothing denied reached opencode


async def test_403_body_names_what_is_missing(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.post(f"{h.url}/session", headers=h.bearer("r")) as resp:
            assert resp.status == 403
            assert await resp.json() == {
                "error": "insufficient_scope",
                "required": ["write", "execute"],
                "granted": ["read"],
                "message": "POST /session needs write and execute; this token has read "
                "(creates a session the agent then works in)",
            }
            assert resp.headers["WWW-Authenticate"] == (
                'Bearer realm="opencode", error="insufficient_scope", scope="write execute"'
            )
        async with h.client.request("TRACE", f"{h.url}/vcs", headers=h.bearer("rwx")) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"] == "method_not_allowed"


async def test_a_token_in_the_query_string_is_never_accepted(tokens: Tokens) -> None:
    secret = tokens.secrets["rwx"]
    async with gateway_harness(tokens) as h:
        for query in (f"token={secret}", f"access_token={secret}", f"auth={secret}"):
            async with h.client.get(f"{h.url}/vcs?{query}") as resp:
                assert resp.status == 401
    # ... and it is not written to the access log either
    assert all(secret not in line for line in h.access.lines)


async def test_deleting_a_token_takes_effect_on_the_next_request(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        tokens.store.delete([tokens.ids["r"]])
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"] == "unknown_token"


async def test_hop_by_hop_and_forwarding_headers(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        headers = {
            **h.bearer("r"),
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "must not pass",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "X-Forwarded-For": "6.6.6.6",
            "X-Kept": "end-to-end",
            "Cookie": "a=b",
        }
        async with h.client.get(f"{h.url}/vcs", headers=headers) as resp:
            assert resp.status == 200
            assert "Keep-Alive" not in resp.headers  # the upstream's hop-by-hop header
        seen = h.upstream.last().headers
        for gone in ("x-hop", "keep-alive", "te", "proxy-authorization"):
            assert gone not in seen, gone
        assert seen["x-forwarded-for"] == ["127.0.0.1"]
        assert seen["x-forwarded-proto"] == ["http"]
        assert seen["x-kept"] == ["end-to-end"]
        assert seen["cookie"] == ["a=b"]
        assert "user-agent" in seen  # the client's, not one the gateway invented
        assert seen["user-agent"][0].startswith("Python/")


async def test_without_a_password_nothing_is_sent_upstream_as_authorization(tokens: Tokens) -> None:
    async with gateway_harness(tokens, password=None, upstream_password=None) as h:
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        assert "authorization" not in h.upstream.last().headers


async def test_wrong_upstream_password_is_a_clear_502_not_a_browser_prompt(tokens: Tokens) -> None:
    async with (
        gateway_harness(tokens, password="wrong", learn=False) as h,
        # a row that needs no directory: nothing waits for opencode's own to be learned
        h.client.get(f"{h.url}/doc", headers=h.bearer("r")) as resp,
    ):
        assert resp.status == 502
        assert "WWW-Authenticate" not in resp.headers
        body = await resp.json()
        assert body["error"] == "upstream_auth_failed"
        assert "OPENCODE_SERVER_PASSWORD" in body["message"]


async def test_upstream_status_headers_and_bodies_pass_through(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        for code in (201, 204, 304, 404, 500):
            async with h.client.get(f"{h.url}/status?code={code}", headers=h.bearer("rwx")) as resp:
                assert resp.status == code
                assert resp.headers["X-Upstream"] == "yes"
                if code not in (204, 304):
                    assert await resp.text() == "status body"
        async with h.client.head(f"{h.url}/status?code=200", headers=h.bearer("rwx")) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len("status body"))
            assert await resp.read() == b""


async def test_a_corrupt_store_answers_503_and_recovers(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        good = tokens.path.read_bytes()
        tokens.path.write_text("{ not json")
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 503
            body = await resp.json()
            assert body["error"] == "store_unavailable"
            assert str(tokens.path) not in body["message"]  # the path goes to the log only
        assert any(str(tokens.path) in w for w in h.warnings)
        # never fall back to the old token list: still 503 on the next request
        async with h.client.get(f"{h.url}/global/health") as resp:
            assert resp.status == 503
        tokens.path.write_bytes(good)
        async with h.client.get(f"{h.url}/vcs", headers=h.bearer("r")) as resp:
            assert resp.status == 200


async def test_access_log_is_one_json_line_per_request_without_secrets(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.get(f"{h.url}/vcs?q=secretquery", headers=h.bearer("r")) as resp:
            assert resp.status == 200
        forged = {"Authorization": "Bearer " + bad_checksum(tokens.secrets["r"])}
        async with h.client.get(f"{h.url}/session", headers=forged) as resp:
            assert resp.status == 401
    lines = [json.loads(line) for line in h.access.lines]
    assert [(x["method"], x["path"], x["status"], x["reason"]) for x in lines] == [
        ("GET", "/vcs", 200, "ok"),
        ("GET", "/session", 401, "bad_checksum"),
    ]
    assert lines[0]["token_id"] == tokens.ids["r"]
    assert lines[0]["rule"] == "GET /vcs"
    assert lines[1]["rule"] == "GET /session"
    assert set(lines[0]) == set(
        [
            "time",
            "service",
            "method",
            "path",
            "status",
            "reason",
            "rule",
            "token_id",
            "duration_ms",
            "remote",
        ]
    )
    text = "\n".join(h.access.lines)
    for secret in tokens.secrets.values():
        assert secret[:-1] not in text
    assert "secretquery" not in text and PASSWORD not in text


async def test_absolute_form_targets_are_refused(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        reader, writer = await asyncio_open(h.listener.port)
        secret = tokens.secrets["rwx"]
        writer.write(
            f"GET http://evil.example/vcs HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {secret}\r\nConnection: close\r\n\r\n".encode()
        )
        data = await reader.read()
        writer.close()
        assert data.startswith(b"HTTP/1.1 400"), data[:100]
        assert h.upstream.seen == []


async def asyncio_open(port: int):  # type: ignore[no-untyped-def]
    import asyncio

    return await asyncio.open_connection("127.0.0.1", port)


async def test_the_gateway_warns_when_the_policy_was_made_for_another_opencode(
    tokens: Tokens,
) -> None:
    async with gateway_harness(tokens, upstream_version="1.99.0") as h:
        warned = [w for w in h.warnings if "policy was made for opencode 1.18.33" in w]
        assert len(warned) == 1 and "opencode 1.99.0 is running" in warned[0]
    async with gateway_harness(tokens) as h:
        assert not any("policy was made for" in w for w in h.warnings)


async def test_unclassified_operations_are_named_so_in_the_access_log(tokens: Tokens) -> None:
    async with gateway_harness(tokens) as h:
        async with h.client.put(f"{h.url}/vcs", headers=h.bearer("rwx")) as resp:
            assert resp.status == 200  # all three permissions: passes, and is logged
        async with h.client.put(f"{h.url}/vcs", headers=h.bearer("rw")) as resp:
            assert resp.status == 403
    lines = [json.loads(line) for line in h.access.lines]
    assert [(x["rule"], x["status"]) for x in lines] == [
        ("unclassified", 200),
        ("unclassified", 403),
    ]
