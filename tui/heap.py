"""Keep Python's garbage collector from stalling keystrokes on a very large store.

A store of 10,000 tokens keeps a few hundred thousand long-lived objects (records,
rows, cells). Every so often the cyclic collector walks all of them - about
100 ms on a slow machine, long enough to make a keystroke in the filter lag.
After such a store is shown, one full collection runs and the survivors are
frozen out of later collections (`gc.freeze`, Python's tool for exactly this).
Unfreezing first each time means nothing frozen earlier is kept alive for good.
Small stores are left alone: there is nothing to gain.
"""

from __future__ import annotations

import gc

LARGE_STORE = 2_000


def settle_heap(tokens: int) -> None:
    if tokens < LARGE_STORE:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()
