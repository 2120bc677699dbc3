"""A one-line text input for the TUI's forms: pasted text goes in whole, shown safely.

Textual's `Input` keeps only the first line of a paste and draws control
characters as they are, so a pasted ESC would reach the terminal as an escape
sequence. `TextField` inserts the whole paste (less the line break that ends a
copied line) and shows every character core's name rules call unsafe as one
visible stand-in (ESC as `␛`, a line break as `␊`), so the field shows what it
holds and the name check can say what is wrong with it. The value itself is
never altered: what was pasted is what gets checked.

A paste never presses Enter: that is `tui.paste`'s part.
"""

from __future__ import annotations

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual import events
from textual.widgets import Input

from core.model.text import is_unsafe_char

_LINE_ENDS = ("\r\n", "\n", "\r")
_OTHER_UNSAFE = "\N{REPLACEMENT CHARACTER}"


def _stand_in(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ … ␟
    if code == 0x7F:
        return "\N{SYMBOL FOR DELETE}"
    return _OTHER_UNSAFE


def visible(text: str) -> str:
    """`text` with each unsafe character replaced by one visible, one-cell character."""
    if not any(is_unsafe_char(ch) for ch in text):
        return text
    return "".join(_stand_in(ch) if is_unsafe_char(ch) else ch for ch in text)


def paste_text(pasted: str) -> str:
    """What a paste inserts: all of it, less one line break at the very end."""
    for end in _LINE_ENDS:
        if pasted.endswith(end):
            return pasted[: -len(end)]
    return pasted


class TextField(Input):
    """`Input` that inserts a whole paste and never draws a control character."""

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()  # not Input's handler, which keeps the first line only
        text = paste_text(event.text)
        if text:
            start, end = sorted(self.selection)
            self.replace(text, start, end)

    # The three places Input turns the value into cells, on the visible text
    # instead; it has as many characters as the value, so cursor and selection
    # indexes stay the same.

    @property
    def _value(self) -> Text:
        if self.password:
            return super()._value
        return Text(visible(self.value), no_wrap=True, overflow="ignore", end="")

    def _position_to_cell(self, position: int) -> int:
        return cell_len(visible(self.value[:position]))

    def _cell_offset_to_index(self, offset: int) -> int:
        scroll_x, _ = self.scroll_offset
        offset += scroll_x
        cell_offset = 0
        for index, char in enumerate(visible(self.value)):
            width = get_character_cell_size(char)
            if cell_offset <= offset < cell_offset + width:
                return index
            cell_offset += width
        return max(0, min(offset, len(self.value)))
