"""Fixtures for the real-client tests.

Each tool - opencode, nginx, Chromium with Playwright, tmux, node with
@opencode-ai/sdk - is found by a fixture that skips with the reason and the install
command when it is missing, and FAILS instead when the environment variable CI is set
(tests/gateway/real_servers.missing): in CI these clients are installed by .ci/ and a
test that could not run must not pass as a skip.

One opencode, one token store, one gateway, one nginx + forward-auth and one Caddy +
forward-auth serve the whole session; the clients run afresh in each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients import harness

missing = harness._real_servers().missing


@pytest.fixture(scope="session")
def opencode_binary() -> str:
    binary = harness._real_servers().find_opencode()
    if binary is None:
        missing(
            "opencode is not installed: run .ci/install-opencode.sh "
            "(npm package opencode-ai) or put `opencode` on PATH"
        )
    return str(binary)


@pytest.fixture(scope="session")
def opencode_server(opencode_binary: str) -> Iterator[harness.Server]:
    """One real `opencode serve` for the session: a password, a git project, one session."""
    server = harness.start_server(opencode_binary)
    try:
        yield server
    finally:
        harness.stop_server(server)


@pytest.fixture(scope="session")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> harness.Tokens:
    """A token store with an rwx, an rx and an r token (harness.TOKEN_PERMISSIONS)."""
    return harness.make_tokens(tmp_path_factory.mktemp("client-tokens") / "auth-tokens.json")


@pytest.fixture(scope="session")
def gateway(opencode_server: harness.Server, tokens: harness.Tokens) -> Iterator[harness.Front]:
    """`opencode-auth-tui gateway` (the real command) in front of the session's opencode."""
    front = harness.start_gateway(tokens, opencode_server)
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def nginx(opencode_server: harness.Server, tokens: harness.Tokens) -> Iterator[harness.Front]:
    """nginx (README's auth_request config) asking forward-auth, in front of opencode."""
    binary = harness._real_servers().find_nginx()
    if binary is None:
        missing("nginx is not installed: run .ci/install-nginx.sh (Debian package nginx)")
    front = harness.start_nginx_front(tokens, opencode_server, binary)
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def caddy(opencode_server: harness.Server, tokens: harness.Tokens) -> Iterator[harness.Front]:
    """Caddy (README's forward_auth config) asking forward-auth, in front of opencode."""
    binary = harness._real_servers().find_caddy()
    if binary is None:
        missing("caddy is not installed: run .ci/install-nginx.sh (Debian package caddy)")
    front = harness.start_caddy_front(tokens, opencode_server, binary)
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture(params=["gateway", "nginx"])
def front(request: pytest.FixtureRequest) -> harness.Front:
    """Each test that takes `front` runs through the gateway and through nginx."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture(params=["gateway", "nginx", "caddy"])
def every_front(request: pytest.FixtureRequest) -> harness.Front:
    """Each test that takes `every_front` runs through the gateway, nginx and Caddy."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = harness.find_chromium()
    if path is None:
        missing(
            f"Chromium is not installed at {harness.DEFAULT_CHROMIUM} (or $OAT_CHROMIUM): "
            "run .ci/install-browser.sh (Debian package chromium)"
        )
    why = harness.playwright_missing()
    if why:
        missing(why)
    return str(path)


@pytest.fixture
def playwright(chromium: str) -> Iterator[Any]:
    """Playwright's sync API, for one test (so no event loop outlives it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def tmux_binary() -> str:
    path = harness.find_tmux()
    if path is None:
        missing("tmux is not installed: run .ci/install-browser.sh (Debian package tmux)")
    return str(path)


@pytest.fixture
def tmux(tmux_binary: str) -> Iterator[harness.Tmux]:
    session = harness.Tmux(tmux_binary)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def node_sdk(opencode_binary: str) -> str:
    """node, with @opencode-ai/sdk at opencode's version; returns node's path."""
    node = harness.find_node()
    if node is None:
        missing("node is not installed (the SDK test runs tests/clients/sdk_list_sessions.mjs)")
    version = harness.sdk_version()
    if version is None:
        missing(
            f"@opencode-ai/sdk is not installed in {harness.SDK_DIR.relative_to(harness.ROOT)}: "
            "run .ci/install-sdk.sh"
        )
    wanted = harness.opencode_version(opencode_binary)
    if version != wanted:
        missing(f"@opencode-ai/sdk is {version} but opencode is {wanted}: run .ci/install-sdk.sh")
    return str(node)
