"""Every route in opencode's OpenAPI document, through the gateway and forward-auth,
for every set of permissions: the answer equals the policy file's row joined
with SPEC's PR #8217 floor.

The expectation is computed here from the policy file's JSON and SPEC's
wording, independently of core.authz.rules and core.authz.policy. Routes come from the
running opencode's `GET /doc` when opencode is installed, else from the saved
document (tests/data/opencode-1.18.33-openapi.json). Requests go to the fake
opencode, never the real one: the list includes `POST /global/dispose` and
`DELETE /session/{id}`. Directories are not what this test is about: both
servers serve every directory here (tests/core/test_core_scope.py and the
real-server tests cover scope).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from core.gateway.server import Listener
from core.gateway.settings import ListenAddress, ScopeSettings
from tests.gateway.conftest import Tokens, decision_only_forward_auth, gateway_harness
from tests.gateway.real_servers import find_opencode
from tests.gateway.real_servers import request as http_request

DOC = Path(__file__).resolve().parents[1] / "data" / "opencode-1.18.33-openapi.json"
POLICY = Path(__file__).resolve().parents[2] / "core" / "authz" / "opencode_policy.json"
TOKENS = [None, "r", "w", "x", "rw", "rx", "wx", "rwx"]
PERMS = {"r": "read", "w": "write", "x": "execute"}


def policy_rows() -> dict[tuple[str, str], set[str]]:
    rows = json.loads(POLICY.read_text())["operations"]
    return {(r["method"], r["path"]): set(r["needs"]) for r in rows}


def spec_status(method: str, template: str, path: str, token: str | None) -> int:
    """SPEC, "The behaviour inherited" (the floor) and "The opencode policy"."""
    if method in ("GET", "HEAD") and path == "/global/health":
        return 200
    needs = {
        "GET": "read",
        "HEAD": "read",
        "OPTIONS": "read",
        "POST": "write",
        "PUT": "write",
        "PATCH": "write",
        "DELETE": "write",
    }.get(method)
    if needs is None:
        return 403  # any other method is refused whatever the token holds
    required = {needs}
    if "/pty" in path or "/session" in path or "/message" in path:
        required.add("execute")
    rows = policy_rows()
    if method == "OPTIONS":
        # a preflight for any method at this path: execute if one of them needs it
        at_path = [n for (m, p), n in rows.items() if template_matches(p, path)]
        if any("execute" in n for n in at_path):
            required.add("execute")
    else:
        row = rows.get(("GET" if method == "HEAD" else method, template))
        required |= row if row is not None else {"read", "write", "execute"}
    if token is None:
        return 401
    granted = {PERMS[c] for c in token}
    return 200 if required <= granted else 403


def template_matches(template: str, path: str) -> bool:
    """`/project/{projectID}` matches `/project/current`: one segment per parameter."""
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    if want and want[-1] == "*":
        return len(got) >= len(want) and template_matches(
            "/".join(want[:-1]), "/".join(got[: len(want) - 1])
        )
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and w.endswith("}")) for w, g in zip(want, got, strict=True)
    )


def sample_path(template: str) -> str:
    path = re.sub(r"\{[^}]+\}", "sample1", template)
    return path.replace("*", "notes/readme.md")


@pytest.fixture(scope="module")
def routes(request: pytest.FixtureRequest) -> tuple[str, list[tuple[str, str]]]:
    if find_opencode() is not None:
        oc = request.getfixturevalue("opencode")
        status, _, body = http_request(
            oc.url, path="/doc", headers={"Authorization": oc.authorization}
        )
        assert status == 200
        doc = json.loads(body)
        source = "live GET /doc"
    else:
        doc = json.loads(DOC.read_text())
        source = f"{DOC.name} (opencode not installed)"
    found = [
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    ]
    assert len(found) > 100
    return source, found


async def test_every_documented_route_for_every_permission_set(
    routes: tuple[str, list[tuple[str, str]]], tokens: Tokens
) -> None:
    source, documented = routes
    cases = set(documented)
    cases |= {("HEAD", p) for m, p in documented if m == "GET"}
    cases |= {("OPTIONS", p) for _, p in documented}
    cases |= {(m, p) for m in ("TRACE", "PROPFIND") for p in ("/session", "/config")}
    mismatches: list[str] = []
    fa_listener = Listener(
        decision_only_forward_auth(tokens, lambda m: None),
        ListenAddress("127.0.0.1", 0),
    )
    await fa_listener.start()
    try:
        async with (
            gateway_harness(tokens, scope=ScopeSettings(None, True)) as h,
            aiohttp.ClientSession() as fa,
        ):
            for method, template in sorted(cases):
                path = sample_path(template)
                for token in TOKENS:
                    want = spec_status(method, template, path, token)
                    headers = tokens.bearer(token) if token else {}
                    async with h.client.request(
                        method, URL(h.url + path, encoded=True), headers=headers
                    ) as resp:
                        # what opencode (the fake one) answers is its business:
                        # forwarded is forwarded
                        got = resp.status if resp.status in (400, 401, 403) else 200
                    async with fa.get(
                        fa_listener.url + "/auth",
                        headers={**headers, "X-Original-Method": method, "X-Original-URI": path},
                    ) as resp:
                        got_fa = resp.status
                    if got != want or got_fa != want:
                        mismatches.append(
                            f"{method} {path} {token}: gateway {got}, "
                            f"forward-auth {got_fa}, SPEC {want}"
                        )
    finally:
        await fa_listener.stop()
    assert not mismatches, f"routes from {source}:\n" + "\n".join(mismatches[:30])
    assert len(cases) > 300


# SPEC ("read never reveals credentials") and the lead's decision, written out here
# again: the files opencode 1.18.33 reads its config from (and PATCH /config writes),
# at any depth and in any letter case, and all of a `.opencode` folder.
CONFIG_FILES = ("opencode.json", "OpenCode.JSONC", "sub/config.json", ".opencode/agent/a.md")
OTHER_FILES = ("notes/readme.md", "opencode.json.bak", "tsconfig.json")


def content_targets() -> list[tuple[str, str, bool]]:
    """(row, target, aimed at a config file) for every row that returns a file's bytes."""
    rows = json.loads(POLICY.read_text())["operations"]
    found = []
    for row in rows:
        if not row.get("content"):
            continue
        for file in CONFIG_FILES + OTHER_FILES:
            if row["path"].endswith("/*"):
                target = row["path"][:-1] + file
            else:
                target = row["path"] + "?path=" + file
            found.append((f"{row['method']} {row['path']}", target, file in CONFIG_FILES))
    return found


async def test_a_config_file_needs_execute_on_every_route_that_returns_a_file(
    tokens: Tokens,
) -> None:
    targets = content_targets()
    assert {row for row, _, _ in targets} == {"GET /file/content", "GET /api/fs/read/*"}
    rows = policy_rows()
    mismatches: list[str] = []
    fa_listener = Listener(
        decision_only_forward_auth(tokens, lambda m: None),
        ListenAddress("127.0.0.1", 0),
    )
    await fa_listener.start()
    try:
        async with (
            gateway_harness(tokens, scope=ScopeSettings(None, True)) as h,
            aiohttp.ClientSession() as fa,
        ):
            for row, target, config in targets:
                for token in (t for t in TOKENS if t is not None):
                    method, template = row.split(" ", 1)
                    required = rows[(method, template)] | ({"execute"} if config else set())
                    granted = {PERMS[c] for c in token}
                    want = 200 if required <= granted else 403
                    headers = tokens.bearer(token)
                    async with h.client.get(
                        URL(h.url + target, encoded=True), headers=headers
                    ) as resp:
                        got = resp.status if resp.status in (400, 401, 403) else 200
                    async with fa.get(
                        fa_listener.url + "/auth",
                        headers={**headers, "X-Original-Method": "GET", "X-Original-URI": target},
                    ) as resp:
                        got_fa = resp.status
                    if got != want or got_fa != want:
                        mismatches.append(f"{target} {token}: {got}/{got_fa}, not {want}")
    finally:
        await fa_listener.stop()
    assert mismatches == []


async def test_methods_outside_the_seven_are_refused_whatever_the_token(tokens: Tokens) -> None:
    import asyncio

    async with gateway_harness(tokens) as h:
        for method in ("get", "Get", "BREW", "PROPFIND", "TRACE", "MKCOL"):
            reader, writer = await asyncio.open_connection("127.0.0.1", h.listener.port)
            secret = tokens.secrets["rwx"]
            writer.write(
                f"{method} /config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            # 403 method_not_allowed, or 400 where the HTTP parser itself rejects the
            # method (lowercase ones): either way refused, and opencode never sees it
            assert head[:12] in (b"HTTP/1.1 403", b"HTTP/1.0 400", b"HTTP/1.1 400"), head[:80]
        assert h.upstream.seen == []


def test_the_saved_document_matches_the_installed_opencode(
    routes: tuple[str, list[tuple[str, str]]],
) -> None:
    source, found = routes
    if not source.startswith("live"):
        pytest.skip("opencode not installed: nothing to compare the saved document with")
    saved = json.loads(DOC.read_text())
    saved_ops = {
        (m.upper(), p) for p, item in saved["paths"].items() for m in item if m != "parameters"
    }
    assert set(found) == saved_ops
