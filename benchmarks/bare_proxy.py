"""The floor for the gateway's own cost: a bare aiohttp reverse proxy, no auth.

    python benchmarks/bare_proxy.py UPSTREAM_URL [AUTHORIZATION]

Prints its port, then relays every request to UPSTREAM_URL with the client's
`Authorization` replaced by AUTHORIZATION (opencode's own Basic credentials),
hop-by-hop headers dropped, the body and the answer passed on piece by piece,
and WebSocket upgrades relayed message by message. No decision, no access log,
no limits: what any aiohttp proxy pays to be one (benchmarks/front_cost_bench.py
starts it as the gateway's peer, on the same event loop the gateway uses).
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import ClientSession, DummyCookieJar, TCPConnector, WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "authorization",
        "content-length",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
    }
)


async def main(upstream: str, authorization: str | None) -> None:
    session = ClientSession(
        connector=TCPConnector(limit=0, keepalive_timeout=15.0),
        cookie_jar=DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
    )

    def headers_for(request: web.BaseRequest) -> CIMultiDict[str]:
        out: CIMultiDict[str] = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP
        )
        if authorization:
            out["Authorization"] = authorization
        if "Content-Length" in request.headers:
            out["Content-Length"] = request.headers["Content-Length"]
        return out

    async def websocket(request: web.BaseRequest, url: URL) -> web.StreamResponse:
        up = await session.ws_connect(url, headers=headers_for(request), autoclose=False)
        down = web.WebSocketResponse(autoclose=False)
        await down.prepare(request)

        async def pump(source: web.WebSocketResponse | object, sink: object) -> None:
            async for msg in source:  # type: ignore[attr-defined]
                if msg.type is WSMsgType.TEXT:
                    await sink.send_str(msg.data)  # type: ignore[attr-defined]
                elif msg.type is WSMsgType.BINARY:
                    await sink.send_bytes(msg.data)  # type: ignore[attr-defined]
            await sink.close()  # type: ignore[attr-defined]

        await asyncio.gather(pump(down, up), pump(up, down), return_exceptions=True)
        return down

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        url = URL(upstream + request.raw_path, encoded=True)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket(request, url)
        body = request.content.iter_any() if request.body_exists else None
        async with session.request(
            request.method,
            url,
            headers=headers_for(request),
            data=body,
            allow_redirects=False,
            compress=None,
        ) as up:
            response = web.StreamResponse(
                status=up.status,
                headers=CIMultiDict((k, v) for k, v in up.headers.items() if k.lower() not in _HOP),
            )
            if up.content_length is not None:
                response.content_length = up.content_length
            await response.prepare(request)
            async for chunk in up.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    server = web.Server(handle, handler_cancellation=True)
    listening = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    print(listening.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    loop_name = "asyncio"
    if "--uvloop" in sys.argv:
        sys.argv.remove("--uvloop")
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
