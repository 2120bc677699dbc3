"""Code run in child processes by the multi-process database tests (children come
from a forkserver, so these functions must be importable by name)."""

from __future__ import annotations

from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier


def create_many(url: str, worker: int, count: int, barrier: Barrier, out: Connection) -> None:
    """Create `count` tokens as fast as possible, half with generated names; send
    back the digest of every token this worker was told it created."""
    from core.store.pg.engine import PostgresStore

    store = PostgresStore(url, lock_timeout=60)
    store.load()  # connected before the race starts
    barrier.wait(timeout=60)
    digests = []
    for i in range(count):
        name = f"w{worker}-{i}" if i % 2 else None
        digests.append(store.create(name=name).record.digest)
    store.close()
    out.send(digests)
    out.close()


def consume(url: str, code: str, barrier: Barrier, out: Connection) -> None:
    """Use the pairing link `code` at the same moment as another process."""
    from core.model.errors import PairingInvalid
    from core.store.pg.engine import PostgresStore

    store = PostgresStore(url, lock_timeout=60)
    store.load()  # connected before the race starts
    barrier.wait(timeout=60)
    try:
        issued = store.consume_pairing(code, client="192.0.2.1", user_agent="UA")
    except PairingInvalid as exc:
        out.send(("refused", exc.reason))
    else:
        out.send(("signed in", issued.record.digest))
    finally:
        store.close()
    out.close()
