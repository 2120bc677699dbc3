"""The event loop the gateway and forward-auth run on.

uvloop (libuv, in C) when it is installed - the `gateway` extra brings it on
Linux and macOS - else asyncio's own loop. Every byte the gateway relays and
every request it decides passes through the loop's socket and scheduling code,
which in asyncio is Python: on uvloop the same work takes markedly less CPU
(benchmarks/front_cost_bench.py prints both). Behaviour is the same on either;
`OPENCODE_AUTH_TUI_LOOP=asyncio` keeps asyncio's loop even when uvloop is there
(to rule the loop out when looking into a problem).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICE = "OPENCODE_AUTH_TUI_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop, or None (asyncio's default) when it is absent or declined."""
    if os.environ.get(CHOICE, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on uvloop where there is one."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def settle() -> None:
    """Start-up is over: what it made (modules, the policy, the token index, the
    client session) lives as long as the process. `gc.freeze` moves it out of
    the collector's sight, so a full collection - which walks every tracked
    object and holds up the loop, a request or a keystroke, for as long - walks
    only what was made since. Nothing is freed by this or kept longer."""
    gc.freeze()
