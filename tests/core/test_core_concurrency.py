"""Several processes writing one store lose nothing; a writer killed at any moment
leaves a valid file, and the next write sweeps what it left behind."""

from __future__ import annotations

import json
import os
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest

from core.model.permissions import Permission
from core.model.records import TokenRecord
from core.model.schema import parse_document_json
from core.store import TokenStore, read_snapshot, serialize
from tests.core import core_workers
from tests.core.core_helpers import T0_S, forkserver, temp_files

pytestmark = pytest.mark.slow

WORKERS = 8
PER_WORKER = 50


def test_concurrent_creates_lose_nothing(store_path: Path) -> None:
    ctx = forkserver()
    barrier = ctx.Barrier(WORKERS)
    pipes = []
    procs = []
    for worker in range(WORKERS):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=core_workers.create_many,
            args=(str(store_path), worker, PER_WORKER, barrier, send),
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

    raw = store_path.read_bytes()
    doc = parse_document_json(raw)  # the file is valid
    records = doc.tokens
    assert len(records) == WORKERS * PER_WORKER
    assert len({r.id for r in records}) == len(records)
    assert len({r.name.casefold() for r in records}) == len(records)
    assert {r.digest for r in records} == set(reported)  # every create a caller saw
    generated = sorted(
        int(r.name.removeprefix("token-")) for r in records if r.name.startswith("token-")
    )
    assert generated == list(range(1, WORKERS * PER_WORKER // 2 + 1))  # no gaps, no repeats
    assert temp_files(store_path.parent) == []


def _baseline(path: Path, count: int) -> list[TokenRecord]:
    records = [
        TokenRecord(
            id=f"{i:08d}",
            name=f"base-{i}",
            permissions=(Permission.READ,),
            created_at=T0_S,
            expires_at=T0_S + timedelta(days=30),
            hint="ocat_…abcd",
            digest="sha256:" + f"{i:064x}",
        )
        for i in range(count)
    ]
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(serialize(records))
    os.chmod(path, 0o600)
    return records


def _wait_for_a_temp_file(folder: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name.endswith(".tmp") for name in os.listdir(folder)):
            return


def test_sigkill_during_writes_always_leaves_a_valid_file(store_path: Path) -> None:
    # A big enough file that a good share of each loop is spent writing it.
    baseline = _baseline(store_path, 1500)
    base_ids = {r.id for r in baseline}
    ctx = forkserver()
    rng = random.Random(8217)
    kills = 20
    left_temp_files = 0
    for kill in range(kills):
        ready = ctx.Event()
        proc = ctx.Process(target=core_workers.churn, args=(str(store_path), ready))
        proc.start()
        assert ready.wait(30), "the writer did not start"
        if kill % 2:
            _wait_for_a_temp_file(store_path.parent, timeout=0.5)  # mid-write
        else:
            time.sleep(rng.uniform(0.005, 0.12))  # a random moment
        proc.kill()
        proc.join(10)
        assert proc.exitcode == -9

        snapshot = read_snapshot(store_path)  # parses: never a torn file
        ids = {r.id for r in snapshot.records}
        assert base_ids <= ids, "a token that was not being changed was lost"
        # Besides the baseline only churn tokens, at most one per killed writer
        # (created, then killed before its delete).
        extra = [r for r in snapshot.records if r.id not in base_ids]
        assert all(r.name.startswith("churn-") for r in extra)
        assert len(extra) <= kill + 1
        assert json.loads(store_path.read_bytes())["version"] == 3
        left_temp_files += bool(temp_files(store_path.parent))

    # Killing right after a temp file appeared did catch writers mid-write
    # (so the checks above covered torn writes, not just idle moments)...
    assert left_temp_files >= 1
    print(f"{left_temp_files} of {kills} kills left a temporary file behind")
    # ...and the next write (under the lock) sweeps whatever they left.
    TokenStore(store_path).create(name="after")
    assert temp_files(store_path.parent) == []
    final = read_snapshot(store_path).records
    assert base_ids <= {r.id for r in final}


def test_concurrent_sign_ins_lose_nothing(store_path: Path) -> None:
    """The cross-process lock covers sessions as it covers tokens: sessions
    started (and their last-seen times recorded) by several processes at once,
    while another process creates tokens, are all there."""
    TokenStore(store_path).create(name="phone", expires="never")
    ctx = forkserver()
    workers, per_worker = 4, 15
    barrier = ctx.Barrier(workers + 1)
    pipes, procs = [], []
    for worker in range(workers):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=core_workers.sign_in_many,
            args=(str(store_path), worker, per_worker, barrier, send),
        )
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    receive, send = ctx.Pipe(duplex=False)
    creator = ctx.Process(
        target=core_workers.create_many, args=(str(store_path), 99, per_worker, barrier, send)
    )
    creator.start()
    send.close()
    reported: list[str] = []
    for pipe in pipes:
        assert pipe.poll(120), "a worker did not finish"
        reported += pipe.recv()
    assert receive.poll(120)
    tokens_made = receive.recv()
    for proc in [*procs, creator]:
        proc.join(30)
        assert proc.exitcode == 0
    doc = parse_document_json(store_path.read_bytes())
    assert len(doc.tokens) == 1 + per_worker
    assert {t.digest for t in doc.tokens} >= set(tokens_made)
    assert sorted(s.digest for s in doc.sessions) == sorted(reported)
    assert len(reported) == workers * per_worker
    assert all(s.last_seen_at is not None for s in doc.sessions)  # no batch lost either


def test_a_pairing_link_used_by_two_processes_at_once_signs_in_one(store_path: Path) -> None:
    store = TokenStore(store_path)
    store.create(name="phone", expires="never")
    ctx = forkserver()
    for _ in range(6):
        code = store.create_pairing("phone").code.reveal()
        barrier = ctx.Barrier(2)
        pipes, procs = [], []
        for _ in range(2):
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=core_workers.consume, args=(str(store_path), code, barrier, send)
            )
            proc.start()
            send.close()
            pipes.append(receive)
            procs.append(proc)
        results = []
        for pipe in pipes:
            assert pipe.poll(60)
            results.append(pipe.recv())
        for proc in procs:
            proc.join(30)
        outcomes = sorted(result[0] for result in results)
        assert outcomes == ["refused", "signed in"], results
        assert ("refused", "unknown") in results  # the link was gone: used
        signed_in = next(r[1] for r in results if r[0] == "signed in")
        assert [s.digest for s in store.sessions() if s.digest == signed_in] == [signed_in]
    assert len(store.sessions()) == 6 and store.load().pairings == ()
