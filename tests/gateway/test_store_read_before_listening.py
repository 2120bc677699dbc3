"""A server reads its store before it opens its port (issue 20): its first
request is decided at once, with no read on the request's way; a store that
cannot be read does not keep it from starting - every request is then refused
with 503 and the reason, and it recovers when the store is mended."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.gateway.server import Listener
from core.gateway.settings import ListenAddress
from tests.gateway.conftest import Tokens, decision_only_forward_auth

AUTH = {"X-Original-Method": "GET", "X-Original-URI": "/vcs"}


async def test_the_store_is_read_before_the_port_opens(
    tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store.file import index_reader, reading

    service = decision_only_forward_auth(tokens)
    authorizer = service.guard.authorizer
    listener = Listener(service, ListenAddress("127.0.0.1", 0))
    assert authorizer.held() is None  # nothing read yet
    await listener.start()
    try:
        held = authorizer.held()
        assert held is not None and len(authorizer.index()) == len(tokens.ids)
        reads: list[object] = []
        real = reading.read_file

        def counted(*args: Any) -> Any:
            reads.append(args)
            return real(*args)

        monkeypatch.setattr(index_reader, "read_file", counted)
        async with aiohttp.ClientSession() as client:
            headers = {**AUTH, **tokens.bearer("r")}
            async with client.get(listener.url + "/auth", headers=headers) as resp:
                assert resp.status == 200
        assert reads == [] and authorizer.held() is held  # decided on what was read first
    finally:
        await listener.stop()


async def test_an_unreadable_store_answers_503_with_its_reason_until_mended(
    tokens: Tokens,
) -> None:
    good = tokens.path.read_bytes()
    tokens.path.write_text('{"version": 3, "tokens": [')  # cut short
    warnings: list[str] = []
    listener = Listener(
        decision_only_forward_auth(tokens, warnings.append), ListenAddress("127.0.0.1", 0)
    )
    await listener.start()  # it starts all the same
    try:
        async with aiohttp.ClientSession() as client:
            headers = {**AUTH, **tokens.bearer("r")}
            async with client.get(listener.url + "/auth", headers=headers) as resp:
                assert resp.status == 503
                body = await resp.json()
                assert body["error"] == "store_unavailable"
                assert "truncated" in resp.headers.get("X-Auth-Error", "") + "".join(warnings)
            tokens.path.write_bytes(good)
            async with client.get(listener.url + "/auth", headers=headers) as resp:
                assert resp.status == 200
    finally:
        await listener.stop()
