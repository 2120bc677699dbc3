"""A small stand-in for `opencode serve`, written with aiohttp, that records what
reaches it and lets a test hold a stream at any point.

Routes (everything else echoes):
  GET  /global/health            {"healthy": true, "version": "1.18.33"}
  GET  /path                     opencode's folders; `directory` is `FAKE_DIRECTORY`
  GET  /session/{id}             {"id", "directory"} for ids in `sessions`, else 404
  POST /upload                   reads the body piece by piece; `first_chunk` is set
                                 as soon as the first piece arrives
  GET  /download                 sends one piece, waits for `release`, sends the rest
  GET  /sse, /event              one event, waits for `release`, a second event
  GET  /slow?s=SECONDS           answers after a delay
  GET  /basic-401                401 with a Basic challenge (a wrong password)
  GET  /pty/{id}/connect         WebSocket: greets, then echoes (and records headers)
  GET  /headers                  {"headers": {name: [values]}}: what reached it
  *    anything else             JSON echo of method, raw path, headers, body length

Also runnable as a script (`python -m tests.gateway.fake_upstream [PASSWORD]`),
printing its port, for tests whose gateway or proxy runs in another process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

FAKE_DIRECTORY = "/srv/fake-project"
FAKE_HOME = "/home/fake"
OPENCODE_PUBLIC_FILES = frozenset(
    {"/site.webmanifest", "/web-app-manifest-192x192.png", "/web-app-manifest-512x512.png"}
)
"""What opencode 1.18.33 serves without its password (GET only)."""


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, list[str]]
    body_length: int


@dataclass
class FakeUpstream:
    password: str | None = None
    seen: list[Seen] = field(default_factory=list)
    ws_headers: list[dict[str, list[str]]] = field(default_factory=list)
    first_chunk: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    upload_total: int = 0
    sessions: dict[str, str] = field(default_factory=dict)
    version: str = "1.18.33"
    public_files: frozenset[str] = OPENCODE_PUBLIC_FILES
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last(self) -> Seen:
        return self.seen[-1]

    async def start(self, port: int = 0) -> FakeUpstream:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site.port
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _authorized(self, request: web.Request) -> bool:
        if self.password is None:
            return True
        if request.method == "GET" and request.path in self.public_files:
            return True  # as opencode: served without its password
        expected = "Basic " + base64.b64encode(f"opencode:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == expected

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        if not self._authorized(request):
            return web.Response(
                status=401, headers={"WWW-Authenticate": 'Basic realm="Secure Area"'}
            )
        path = request.path
        if (
            path.startswith("/pty/")
            and path.endswith("/connect")
            and (request.headers.get("Upgrade", "").lower() == "websocket")
        ):
            self.ws_headers.append(headers)
            return await self._websocket(request)
        if path == "/upload":
            return await self._upload(request, headers)
        body = await request.read()
        self.seen.append(Seen(request.method, request.raw_path, headers, len(body)))
        if path == "/global/health":
            return web.json_response({"healthy": True, "version": self.version})
        if path == "/path":
            return web.json_response(
                {
                    "home": FAKE_HOME,
                    "state": f"{FAKE_HOME}/.local/state/opencode",
                    "config": f"{FAKE_HOME}/.config/opencode",
                    "worktree": FAKE_DIRECTORY,
                    "directory": FAKE_DIRECTORY,
                }
            )
        if path.startswith("/session/") and request.method == "GET" and path.count("/") == 2:
            session_id = path.split("/")[2]
            if session_id in self.sessions:
                return web.json_response({"id": session_id, "directory": self.sessions[session_id]})
            return web.json_response({"name": "NotFoundError"}, status=404)
        if request.method != "GET" and path in ("/download", "/sse", "/event", "/global/event"):
            return web.Response(status=200, content_type="text/event-stream")
        if path == "/download":
            return await self._download(request)
        if path in ("/sse", "/event", "/global/event"):
            return await self._sse(request)
        if path == "/slow":
            await asyncio.sleep(float(request.query.get("s", "1")))
            return web.json_response({"slow": True})
        if path == "/headers":  # what reached opencode, for tests in other processes
            return web.json_response({"headers": headers})
        if path == "/basic-401":
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})
        if path == "/status":
            return web.Response(
                status=int(request.query.get("code", "200")),
                text="status body",
                headers={"X-Upstream": "yes"},
            )
        payload: dict[str, Any] = {
            "method": request.method,
            "raw_path": request.raw_path,
            "body_length": len(body),
        }
        return web.json_response(payload, headers={"X-Upstream": "yes", "Keep-Alive": "timeout=5"})

    async def _upload(self, request: web.Request, headers: dict[str, list[str]]) -> web.Response:
        total = 0
        async for chunk in request.content.iter_any():
            total += len(chunk)
            self.first_chunk.set()
        self.upload_total = total
        self.seen.append(Seen(request.method, request.raw_path, headers, total))
        return web.json_response({"received": total})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        await response.write(b"a" * 65536)
        await asyncio.wait_for(self.release.wait(), 10)
        await response.write(b"b" * 65536)
        await response.write_eof()
        return response

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        await response.write(b'data: {"type":"server.connected"}\n\n')
        try:
            await asyncio.wait_for(self.release.wait(), 10)
        except TimeoutError:
            return response
        await response.write(b'data: {"type":"second"}\n\n')
        # keep the stream open like opencode does, until the client or shutdown ends it
        while True:
            await asyncio.sleep(0.05)
            if request.transport is None or request.transport.is_closing():
                return response

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(b"\x00" + json.dumps({"cursor": 0}).encode())
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                if msg.data == "close-please":
                    await ws.close(code=4001, message=b"asked")
                    break
                await ws.send_str(f"echo:{msg.data}")
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws


async def _main(password: str | None) -> None:
    upstream = await FakeUpstream(password=password).start()
    print(upstream.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1] if len(sys.argv) > 1 else None))
