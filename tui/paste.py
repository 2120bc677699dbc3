"""A bracketed paste arrives as one `Paste` event holding exactly the pasted text.

Terminals wrap pasted text in `ESC [200~` ... `ESC [201~` so that programs can
tell it from typing. Textual 8's `XTermParser` collects the text between the two
markers, but an ESC *inside* the paste starts its escape-sequence reader, which
keeps the characters after it out of the paste and, once it gives up, replays
them as key presses. Pasting `ev\\x1b[31mil\\nline2` into the Name field thus
typed `^[31mil`, pressed Enter (the line break), typed `line2`, and only then
delivered the paste `ev`: the form was submitted with the text reordered.

`PasteSafeParser` takes the paste out of the stream before Textual's parser sees
it: the parser still gets both markers (so its own state stays right) but
nothing between them, and the text between them becomes a single `Paste` event,
in its place in the stream. Nothing pasted is ever a key press.

Why a copy of Textual's input loop (Textual 8.2.8, `MIRRORS_TEXTUAL`): Textual
offers no supported way to do this.

- The damage is done inside the parser, in the driver's input thread, before
  any event reaches the app: by the time an App or widget sees the `Paste`
  event (the supported hook, which `TextField` uses), the Enter has already been
  dispatched. No event handler can put the order back.
- The parser is a local variable of `LinuxDriver.run_input_thread`
  (`parser = XTermParser(self._debug)`): there is no attribute, factory or
  argument through which another parser could be given.
- The one supported seam is `App.get_driver_class`. So `PasteSafeLinuxDriver`
  is Textual's `LinuxDriver` with that one method copied, differing only in the
  parser class.

Everything private this module relies on: `textual._xterm_parser` (`XTermParser`,
whose `feed` it extends, and the two markers), `textual._parser.ParseError`,
`textual._loop.loop_last`, and `LinuxDriver.run_input_thread`, `._debug`,
`.fileno`, `.exit_event`, `.process_message`.
`tests/tui/test_paste_mirrors_textual.py` fails when any of these changes: the
copied loop must stay equal to Textual's (compared as syntax trees), the
installed Textual must be `MIRRORS_TEXTUAL`, and Textual's own parser must still
have the bug (when it is fixed, this module can go).
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Iterable, Iterator

from textual import events
from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

MIRRORS_TEXTUAL = "8.2.8"
"""The Textual release whose `LinuxDriver.run_input_thread` is copied below."""

_START_KEEP = len(BRACKETED_PASTE_START) - 1  # how much of a start marker can end a read
_END_KEEP = len(BRACKETED_PASTE_END) - 1


class PasteSafeParser(XTermParser):
    """`XTermParser`, except that the text of a bracketed paste is never parsed."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._recent = ""  # the last characters parsed, to find a start marker split across reads
        self._pasted: list[str] | None = None  # the paste so far, while inside one
        self._paste_tail = ""  # its last characters, which may be the start of the end marker

    @property
    def pasting(self) -> bool:
        return self._pasted is not None

    def feed(self, data: str) -> Iterable[Message]:
        return list(self._feed(data))

    def _feed(self, data: str) -> Iterator[Message]:
        if not data:  # end of input
            if self._pasted is not None:
                yield self._finish_paste(self._paste_tail)
            yield from self._parse("")
            return
        while data:
            if self._pasted is None:
                window = self._recent + data
                found = window.find(BRACKETED_PASTE_START)
                if found < 0:
                    self._recent = window[-_START_KEEP:]
                    yield from self._parse(data)
                    return
                cut = found + len(BRACKETED_PASTE_START) - len(self._recent)
                yield from self._parse(data[:cut])  # up to and including the start marker
                self._recent = ""
                self._pasted = []
                self._paste_tail = ""
                data = data[cut:]
            else:
                window = self._paste_tail + data
                end = window.find(BRACKETED_PASTE_END)
                if end < 0:
                    keep = max(0, len(window) - _END_KEEP)
                    self._pasted.append(window[:keep])
                    self._paste_tail = window[keep:]
                    return
                yield self._finish_paste(window[:end])
                yield from self._parse(BRACKETED_PASTE_END)
                data = window[end + len(BRACKETED_PASTE_END) :]

    def _finish_paste(self, last: str) -> events.Paste:
        assert self._pasted is not None
        self._pasted.append(last)
        text = "".join(self._pasted)
        self._pasted = None
        self._paste_tail = ""
        # As Textual does: https://github.com/Textualize/textual/issues/1661
        return events.Paste(text.replace("\x00", ""))

    def _parse(self, data: str) -> Iterator[Message]:
        for message in super().feed(data):
            # Textual's parser saw the markers of a paste with nothing between them.
            if isinstance(message, events.Paste) and not message.text:
                continue
            yield message


class PasteSafeLinuxDriver(LinuxDriver):
    """Textual's Linux/macOS driver, reading input with `PasteSafeParser`."""

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop, `MIRRORS_TEXTUAL`; only
        the parser differs)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)

        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ

        parser = PasteSafeParser(self._debug)
        feed = parser.feed
        tick = parser.tick

        utf8_decoder = getincrementaldecoder("utf-8")().decode
        decode = utf8_decoder
        read = os.read

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]],
            final: bool = False,
        ) -> None:
            """Process events from selector."""
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        # This can occur if the stdin is piped
                        break
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process_selector_events(selector.select(0.1))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(0.1), final=True)

        finally:
            selector.close()
            try:
                for event in feed(""):  # noqa: B007 - as in Textual
                    pass
            except (EOFError, ParseError):
                pass
