"""8 processes x 50 creates on one database: exactly 400 tokens, none lost, every
name distinct (the write lock serializes the change functions, as the file's
flock does)."""

from __future__ import annotations

import pytest

from core.store.pg.engine import PostgresStore
from tests.core.core_helpers import forkserver
from tests.pg import workers

pytestmark = pytest.mark.slow

WORKERS = 8
PER_WORKER = 50


def test_eight_processes_creating_fifty_tokens_each_make_exactly_400(pg_url: str) -> None:
    ctx = forkserver()
    barrier = ctx.Barrier(WORKERS)
    pipes = []
    procs = []
    for worker in range(WORKERS):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=workers.create_many, args=(pg_url, worker, PER_WORKER, barrier, send)
        )
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    reported: list[str] = []
    for receive in pipes:
        assert receive.poll(120), "a writer did not finish"
        reported += receive.recv()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0

    records = PostgresStore(pg_url).tokens()
    assert len(records) == WORKERS * PER_WORKER
    assert len({r.id for r in records}) == len(records)
    assert len({r.name.casefold() for r in records}) == len(records)
    assert {r.digest for r in records} == set(reported)
    generated = sorted(
        int(r.name.removeprefix("token-")) for r in records if r.name.startswith("token-")
    )
    assert generated == list(range(1, WORKERS * PER_WORKER // 2 + 1))  # no gaps, no repeats
