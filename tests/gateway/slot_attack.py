"""Holding connection slots without a token, from many loopback addresses.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a test can be
"many clients" by binding each socket to its own 127.0.0.x source address.

`Attack` is the attacker of issue 16 (item 6): every address keeps `per_address`
connections and sends a request without a token on each every `period`
seconds. It adapts as a real one would: a connection the server hangs up on is
replaced at once (the new one sits idle until its next round, holding a slot),
and one refused with 503 is tried again shortly after. `timed_answer` is the
client with a token, whose answer the tests wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

ATTACKERS = tuple(f"127.0.0.{i}" for i in range(2, 11))  # nine source addresses
CLIENT = "127.0.0.77"  # the client with a token: an address of its own


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]] | None:
    """One whole response (its body read and dropped), or None when the server
    hung up first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        else:
            await reader.readexactly(int(headers.get("content-length", "0")))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    return status, headers


@dataclass
class Attack:
    port: int
    request: bytes
    addresses: Sequence[str] = ATTACKERS
    per_address: int = 64
    period: float = 5.0
    answered: Counter[int] = field(default_factory=Counter)
    hung_up_after_refusal: int = 0
    """Refusals (401) after which the server closed the connection."""
    said_close: int = 0
    """Refusals (401) that said `Connection: close`."""
    kept_after_refusal: int = 0
    """Refusals after which the connection stayed open (keep-alive)."""
    interrupted: int = 0
    """Refusals whose hang-up was still being watched for when the attack stopped."""
    connects: int = 0
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False

    def start(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self._hold(address))
            for address in self.addresses
            for _ in range(self.per_address)
        ]

    async def stop(self) -> None:
        # a flag as well as cancel(): Python 3.11's wait_for can swallow a
        # cancellation that arrives just as what it waits for completes
        self._stopping = True
        for writer in list(self._writers):
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        _, pending = await asyncio.wait(self._tasks, timeout=10)
        self._writers.clear()
        assert not pending, f"{len(pending)} attacking connections would not stop"

    async def full_strength(self, timeout: float = 20.0) -> None:
        """Until every connection has sent its first request and had its answer."""
        deadline = time.monotonic() + timeout
        wanted = len(self.addresses) * self.per_address
        while sum(self.answered.values()) < wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"the attack never got going: {self.answered}")
            await asyncio.sleep(0.05)

    async def _hold(self, address: str) -> None:
        first = True
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=(address, 0)
                )
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.connects += 1
            self._writers.add(writer)
            refused = False
            try:
                while not self._stopping:
                    if not first:
                        await asyncio.sleep(self.period)
                    first = False
                    writer.write(self.request)
                    answer = await read_response(reader)
                    if answer is None:
                        break  # dropped to make room: replace it
                    status, headers = answer
                    self.answered[status] += 1
                    if status == 503:
                        refused = True
                        break
                    if status == 401:
                        if headers.get("connection", "").lower() == "close":
                            self.said_close += 1
                        try:
                            hung_up = await _hung_up(reader)
                        except asyncio.CancelledError:
                            self.interrupted += 1
                            raise
                        if hung_up:
                            self.hung_up_after_refusal += 1
                            break
                        self.kept_after_refusal += 1
            finally:
                writer.transport.abort()
                self._writers.discard(writer)
            if refused:
                await asyncio.sleep(0.2)  # and try again (Retry-After is 1 s)


async def _hung_up(reader: asyncio.StreamReader) -> bool:
    """True if the server closes the connection right after its answer."""
    try:
        data = await asyncio.wait_for(reader.read(1), 0.5)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return data == b""


async def timed_answer(port: int, request: bytes, address: str = CLIENT) -> tuple[int, float]:
    """(status, seconds from connecting to the whole answer) for one request
    sent with `Connection: close` on a fresh connection from `address`; status 0
    when the connection was reset before an answer."""
    started = time.perf_counter()
    data = b""
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
        try:
            writer.write(request)
            data = await reader.read()
        except ConnectionError:
            pass  # reset: refused before its answer could be read (status 0)
        finally:
            writer.transport.abort()
    took = time.perf_counter() - started
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, took


def http_request(path: str, headers: dict[str, str] | None = None, *, close: bool = False) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextlib.asynccontextmanager
async def attacking(attack: Attack) -> AsyncIterator[Attack]:
    attack.start()
    try:
        await attack.full_strength()
        yield attack
    finally:
        await attack.stop()
