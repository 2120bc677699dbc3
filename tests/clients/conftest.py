"""Fixtures for the real-client tests.

Each tool - opencode, Chromium with Playwright, tmux, node with @opencode-ai/sdk - is
found by a fixture that skips with the reason and the install command when it is
missing, and FAILS instead when the environment variable CI is set: in CI these
clients are installed by .ci/ and a test that could not run must not pass as a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients import harness


def missing(reason: str) -> None:
    """Skip, or under CI fail, with `reason`."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


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
