"""A dialog button whose focus shows without colour, and never as selected text.

Textual draws a focused button's label in reverse video, which reads as
selected text, and tells focused from unfocused mostly by colour. Here the
focused button is marked `▸ Cancel ◂` (bold, underlined; see app.tcss), the
others keep the same width with spaces, so nothing moves when focus does.
"""

from __future__ import annotations

from textual.app import RenderResult
from textual.content import Content
from textual.geometry import Size
from textual.widgets import Button

FOCUS_LEFT = "▸ "
FOCUS_RIGHT = " ◂"


class DialogButton(Button):
    def render(self) -> RenderResult:
        label = self.label
        assert isinstance(label, Content)
        if self.has_focus:
            return Content.assemble(FOCUS_LEFT, label, FOCUS_RIGHT)
        return Content.assemble(" " * len(FOCUS_LEFT), label, " " * len(FOCUS_RIGHT))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return super().get_content_width(container, viewport) + len(FOCUS_LEFT + FOCUS_RIGHT)
