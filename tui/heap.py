"""Keep Python's garbage collector from stalling a very large store.

Reading a store of 100,000 tokens makes about a million long-lived objects
(records, their datetimes and strings, table rows). Left to itself the cyclic
collector would walk them over and over while they are made (a third of the
load time) and then every so often afterwards (100 ms or more on this machine:
a keystroke that lags). So the thread that reads the store and builds the
table's rows runs with the collector paused (`paused_gc`), and a large result
is then moved out of the collector's sight for good (`gc.freeze`, Python's tool
for exactly this). Frozen objects are still freed by reference counting when
the next version of the store replaces them; only a reference cycle made
while the collector was paused would outlive its use, and reading the store
makes none.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LARGE_STORE = 2_000

_lock = threading.Lock()
_paused = 0
_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off while the block runs (nests, and across threads)."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


def settle_heap(tokens: int) -> None:
    """After a store of `tokens` was read and its rows built: freeze what exists."""
    if tokens >= LARGE_STORE:
        gc.freeze()
