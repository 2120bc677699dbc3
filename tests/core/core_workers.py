"""Code run in child processes by the multi-process, kill and privilege tests.

Children come from a `forkserver` (never a fork of the pytest process itself), so
these functions must be importable by name.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

from core.model.errors import StoreWriteFailed
from core.model.schema import build_models
from core.store import TokenStore


def create_many(path: str, worker: int, count: int, barrier: Barrier, out: Connection) -> None:
    """Create `count` tokens as fast as possible, half of them with generated names;
    send back the digest of every token this worker was told it created."""
    store = TokenStore(Path(path), lock_timeout=60)
    barrier.wait(timeout=60)
    digests = []
    for i in range(count):
        name = f"w{worker}-{i}" if i % 2 else None
        digests.append(store.create(name=name).record.digest)
    out.send(digests)
    out.close()


def churn(path: str, ready: Event) -> None:
    """Rewrite the store in a tight loop until killed: create, rotate, delete."""
    store = TokenStore(Path(path), lock_timeout=60)
    ready.set()
    i = 0
    while True:
        name = f"churn-{os.getpid()}-{i}"
        store.create(name=name, permissions="read")
        store.rotate(name)
        store.delete([name])
        i += 1


def write_as_unprivileged_user(path: str, uid: int, out: Connection) -> None:
    """Drop to `uid` and try to create a token; report what happened."""
    build_models()  # built on first use otherwise: by then the interpreter's files are root's
    try:
        os.setgid(uid)
        os.setuid(uid)
    except OSError as exc:
        out.send(("cannot-drop", str(exc)))
        return
    store_path = Path(path)
    before = store_path.read_bytes() if store_path.exists() else None
    try:
        TokenStore(store_path).create(name="new")
    except StoreWriteFailed as exc:
        after = store_path.read_bytes() if store_path.exists() else None
        leftovers = [n for n in os.listdir(store_path.parent) if n.endswith(".tmp")]
        out.send(("failed", str(exc), str(exc.path), before == after, leftovers))
    except Exception as exc:  # report, so the test shows it
        out.send(("error", f"{type(exc).__name__}: {exc}"))
    else:
        out.send(("wrote",))


def read_as_unprivileged_user(path: str, uid: int, out: Connection) -> None:
    """Drop to `uid` and try to read the store; report the error class and text."""
    build_models()  # built on first use otherwise: by then the interpreter's files are root's
    try:
        os.setgid(uid)
        os.setuid(uid)
    except OSError as exc:
        out.send(("cannot-drop", str(exc)))
        return
    try:
        TokenStore(Path(path)).load()
    except Exception as exc:
        out.send((type(exc).__name__, str(exc)))
    else:
        out.send(("read",))


def sign_in_many(path: str, worker: int, count: int, barrier: Barrier, out: Connection) -> None:
    """Start `count` browser sessions of the token `phone` (and record a use of
    each) as fast as possible; send back their digests."""
    from datetime import UTC, datetime

    store = TokenStore(Path(path), lock_timeout=60)
    barrier.wait(timeout=60)
    digests = []
    for i in range(count):
        issued = store.create_session("phone", client=f"10.0.{worker}.{i}", user_agent="UA")
        store.record_session_seen({issued.record.id: (datetime.now(UTC), None)})
        digests.append(issued.record.digest)
    out.send(digests)
    out.close()


def consume(path: str, code: str, barrier: Barrier, out: Connection) -> None:
    """Use the pairing link `code` at the same moment as another process."""
    from core.model.errors import PairingInvalid

    store = TokenStore(Path(path), lock_timeout=60)
    barrier.wait(timeout=60)
    try:
        issued = store.consume_pairing(code, client="192.0.2.1", user_agent="UA")
    except PairingInvalid as exc:
        out.send(("refused", exc.reason))
    else:
        out.send(("signed in", issued.record.digest))
    out.close()
