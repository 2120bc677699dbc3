"""A low-jitter stand-in for opencode's terminal: WebSocket echo, nothing else.

    python benchmarks/echo_upstream.py DIRECTORY

Prints its port. A WebSocket handshake on any path is accepted and every data
frame echoed at once, from `data_received` (no task, no await between a frame
arriving and its echo leaving); the garbage collector is off. Plain requests get
what a front asks opencode at start: `GET /global/health` (version 1.18.33), `GET
/path` (DIRECTORY is opencode's own), anything else `{}`. So the time a front adds
to a keystroke's round trip is measured next to the same round trip direct
(benchmarks/front_cost_bench.py).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import json
import struct
import sys

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _http(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Echo(asyncio.Protocol):
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.buffer = b""
        self.websocket = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.websocket:
            self._frames()
        else:
            self._requests()

    def _requests(self) -> None:
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if " " in lines[0] else "/"
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            assert self.transport is not None
            if headers.get("upgrade", "").lower() == "websocket":
                key = headers["sec-websocket-key"].encode()
                accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
                self.transport.write(
                    (
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                    ).encode()
                )
                self.websocket = True
                self._frames()
                return
            if path.startswith("/global/health"):
                body = json.dumps({"healthy": True, "version": "1.18.33"}).encode()
            elif path.startswith("/path"):
                home = self.directory
                body = json.dumps(
                    {
                        "home": home,
                        "state": f"{home}/.state/opencode",
                        "config": f"{home}/.config/opencode",
                        "worktree": home,
                        "directory": home,
                    }
                ).encode()
            else:
                body = b"{}"
            self.transport.write(_http("200 OK", body))

    def _frames(self) -> None:
        buffer = self.buffer
        transport = self.transport
        assert transport is not None
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length = second & 0x7F
            at = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, 2)
                at = 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, 2)
                at = 10
            masked = second & 0x80
            mask = buffer[at : at + 4] if masked else b""
            at += 4 if masked else 0
            if len(buffer) < at + length:
                break
            payload = buffer[at : at + length]
            buffer = buffer[at + length :]
            if masked:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == 0x8:  # close: answer it and hang up
                transport.write(_frame(0x8, payload[:2]))
                transport.close()
                break
            if opcode == 0x9:
                transport.write(_frame(0xA, payload))
            elif opcode in (0x1, 0x2):
                transport.write(_frame(opcode, payload))
        self.buffer = buffer


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + struct.pack("!H", n) + payload
    return bytes((0x80 | opcode, 127)) + struct.pack("!Q", n) + payload


async def main(directory: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Echo(directory), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    gc.collect()
    gc.freeze()
    gc.disable()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
