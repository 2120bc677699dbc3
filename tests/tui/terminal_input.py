"""What a terminal sends when text is pasted, and what a parser makes of it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from textual import events
from textual.message import Message

PASTED = "ev\x1b[31mil\nline2"
"""The paste of issue 10: an escape sequence and a line break inside the text."""
BRACKETED = f"\x1b[200~{PASTED}\x1b[201~"
"""`PASTED` as a terminal in bracketed-paste mode sends it."""


class Parser(Protocol):
    def feed(self, data: str) -> Iterable[Message]: ...


def parsed(parser: Parser, *chunks: str) -> list[Message]:
    """Everything `parser` makes of `chunks`, read one after the other, then end of input."""
    messages: list[Message] = []
    for chunk in chunks:
        messages.extend(parser.feed(chunk))
    messages.extend(parser.feed(""))  # end of input: flush whatever is pending
    return messages


def describe(messages: Iterable[Message]) -> list[tuple[str, str]]:
    """("paste", text) and ("key", name) for each message; others by class name."""
    out = []
    for message in messages:
        if isinstance(message, events.Paste):
            out.append(("paste", message.text))
        elif isinstance(message, events.Key):
            out.append(("key", message.key))
        else:
            out.append((type(message).__name__, ""))
    return out
