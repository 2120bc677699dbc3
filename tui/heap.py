"""Keep Python's garbage collector from stalling on a very large store.

Reading a store of 100,000 tokens makes about a million long-lived objects
(records, their datetimes and strings, table rows). Left to itself the cyclic
collector walks them over and over while they are made (first paint at 100,000
tokens: 2.1 s instead of 1.0 s on the benchmark machine), and then every so often
afterwards (100 ms or more: a keystroke that lags).

There is one collector per process, so whatever is done to it is done to the
whole process. It is therefore touched only for a large store (`is_large`), and
only around the bulk work, in the worker thread that does it:

- `collector_paused`: off while the store is read and its rows are built, and on
  again as soon as that is done (the UI thread runs with it off for that time);
- `settle_heap`: what the build made is then moved out of the collector's sight
  for good (`gc.freeze`, Python's tool for exactly this). Frozen objects are
  still freed by reference counting when the next version of the store replaces
  them; only a reference cycle made before the freeze would outlive its use, and
  reading the store makes none.

A small store never pauses or freezes anything.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

LARGE_STORE = 2_000


def is_large(tokens: int) -> bool:
    return tokens >= LARGE_STORE


@contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """The cyclic collector off while the block runs (if `pause`), then on again.

    If it is off already (another worker's block, or someone else's choice) it is
    left as it is; so when two workers overlap, the first to finish turns it back
    on and the other finishes with it on: slower, never left off.
    """
    if not (pause and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def settle_heap(tokens: int) -> None:
    """After a store of `tokens` was read and its rows built: freeze what exists,
    if the store is large."""
    if is_large(tokens):
        gc.freeze()
