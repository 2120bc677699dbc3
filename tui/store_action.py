"""A change to the store, made off the UI thread, its outcome sent back as a message.

Every screen that writes to the store (create, edit, delete, rotate, prune,
migrate) does it the same way: the store call runs in a thread worker (a file
lock or a database round trip must not freeze the screen); its result comes back
as the screen's own message (`TokenIssued`, `TokensDeleted`, ...), and a typed
core error as `StoreActionFailed` naming the action, which the screen turns into
words with `tui.error_text`. Any other exception is a bug: the worker lets it
end the app, with its traceback, as `@work` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker

from core.model.errors import AuthTuiError
from tui.messages import StoreActionFailed

ResultT = TypeVar("ResultT")


def run_store_action(
    node: DOMNode,
    action: str,
    call: Callable[[], ResultT],
    done: Callable[[ResultT], Message],
    *,
    group: str = "write-store",
    exclusive: bool = False,
) -> Worker[None]:
    """Run `call` in a thread worker; post `done(result)` to `node`, or
    `StoreActionFailed(action, error)` if core refused (nothing changed then)."""

    def work() -> None:
        try:
            result = call()
        except AuthTuiError as exc:
            node.post_message(StoreActionFailed(action, exc))
        else:
            node.post_message(done(result))

    return node.run_worker(
        work, name=action, group=group, description=action, exclusive=exclusive, thread=True
    )
