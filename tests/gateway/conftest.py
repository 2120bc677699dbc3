"""Fixtures for the gateway tests.

`async def` tests run under pytest-asyncio (tests/conftest.py). A harness starts
the fake upstream and the gateway in-process on 127.0.0.1 with free ports; tests
against a real opencode
or nginx live in their own modules and skip with a clear message when the
binary is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.store import TokenStore

PASSWORD = "upstream-secret-pw"  # the fake opencode's Basic password


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "opencode: needs a real `opencode serve` (skips if absent)")
    config.addinivalue_line("markers", "nginx: needs a real nginx (skips if absent)")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("OPENCODE_AUTH_TOKENS_FILE", raising=False)
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    monkeypatch.delenv("OPENCODE_SERVER_USERNAME", raising=False)


# --- tokens ----------------------------------------------------------------------

PERMISSION_SETS = {
    "r": "read",
    "w": "write",
    "x": "execute",
    "rw": "read,write",
    "rx": "read,execute",
    "wx": "write,execute",
    "rwx": "read,write,execute",
}


@dataclass
class Tokens:
    path: Path
    secrets: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[name]}"}

    @property
    def store(self) -> TokenStore:
        return TokenStore(self.path)


def make_tokens(path: Path) -> Tokens:
    tokens = Tokens(path)
    store = TokenStore(path)
    for name, perms in PERMISSION_SETS.items():
        issued = store.create(name=name, permissions=perms, expires="30d")
        tokens.secrets[name] = issued.secret.reveal()
        tokens.ids[name] = issued.record.id
    past = datetime.now(UTC) - timedelta(days=2)
    expired = TokenStore(path, clock=lambda: past).create(
        name="expired", permissions="read,write,execute", expires="1d"
    )
    tokens.secrets["expired"] = expired.secret.reveal()
    tokens.ids["expired"] = expired.record.id
    return tokens


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    return make_tokens(tmp_path / "store" / "auth-tokens.json")


def bad_checksum(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


# --- collecting logs ---------------------------------------------------------------


class ListLog:
    """An access log that keeps its lines in memory (`core.gateway.access_log.AccessLog`)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        pass


def collecting_logger() -> tuple[ListLog, ListLog]:
    log = ListLog()
    return log, log


# --- the in-process harness --------------------------------------------------------


@dataclass
class Harness:
    upstream: Any
    listener: Any
    gateway: Any
    client: Any
    tokens: Tokens
    access: ListLog
    warnings: list[str]

    @property
    def url(self) -> str:
        return str(self.listener.url)

    def bearer(self, name: str) -> dict[str, str]:
        return self.tokens.bearer(name)


@contextlib.asynccontextmanager
async def gateway_harness(
    tokens: Tokens,
    *,
    password: str | None = PASSWORD,
    upstream_password: str | None = PASSWORD,
    upstream_url: str | None = None,
    limits: Any = None,
    timeouts: Any = None,
    usage: Any = None,
    usage_from: Any = None,
    tls: Any = None,
    learn: bool = True,
    scope: Any = None,
    upstream_version: str = "1.18.33",
) -> AsyncIterator[Harness]:
    import aiohttp

    from core.gateway import wiring
    from core.gateway.server import Listener
    from core.gateway.settings import (
        GatewayConfig,
        Limits,
        ListenAddress,
        Timeouts,
        upstream_authorization,
    )
    from tests.gateway.fake_upstream import FakeUpstream

    upstream = await FakeUpstream(password=upstream_password, version=upstream_version).start()
    warnings: list[str] = []
    env = {"OPENCODE_SERVER_PASSWORD": password} if password else {}
    config = GatewayConfig(
        upstream=upstream_url or upstream.url,
        authorization=upstream_authorization(env),
        timeouts=timeouts or Timeouts(connect=2.0, read=10.0),
        limits=limits or Limits(header_timeout=5.0, client_timeout=5.0, shutdown_timeout=5.0),
        tls=tls is not None,
        **({} if scope is None else {"scope": scope}),
    )
    store = TokenStore(tokens.path)
    if usage_from is not None:  # a recorder over the gateway's own store object
        usage = usage_from(store)
    gateway = wiring.gateway(config, store, usage=usage, warn=warnings.append)
    logger, access = collecting_logger()
    listener = Listener(
        gateway,
        ListenAddress("127.0.0.1", 0),
        limits=config.limits,
        ssl_context=tls,
        access_log=logger,
        warn=warnings.append,
    )
    await listener.start()
    if learn and upstream_url is None:  # the gateway learns the fake opencode's directory
        assert gateway.learner is not None
        await asyncio.wait_for(gateway.learner.learned.wait(), 10)
        upstream.seen.clear()
    client = aiohttp.ClientSession()
    try:
        yield Harness(upstream, listener, gateway, client, tokens, access, warnings)
    finally:
        await client.close()
        await listener.stop()
        await upstream.stop()


def decision_only_forward_auth(tokens: Tokens, warn: Any = lambda message: None) -> Any:
    """forward-auth deciding on `tokens` alone: it asks nothing of opencode and
    serves every directory (the decision matrix, connection limits)."""
    from core.gateway import wiring
    from core.gateway.settings import ScopeSettings

    return wiring.forward_auth(
        TokenStore(tokens.path),
        upstream=None,
        authorization=None,
        scope=ScopeSettings(None, True),
        usage=None,
        warn=warn,
    )


# The real-server fixtures (session-scoped; they skip when the binary is missing).
from tests.gateway.real_servers import (  # noqa: E402
    caddy_front,
    nginx_front,
    opencode,
    opencode_gateway,
    real_tokens,
)

__all__ = ["caddy_front", "nginx_front", "opencode", "opencode_gateway", "real_tokens"]
