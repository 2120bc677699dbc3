"""A drop-down whose list stays inside the dialog it is in.

Textual's `Select` opens its list over the screen, up to 12 rows, kept inside
the screen only: in the edit form at 80x24 the expiry's eight choices ran over
the dialog's border and the footer. Here the list is as tall as the room left
between the select and the dialog's bottom edge (at least 3 rows), and scrolls.
"""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Select

MIN_ROWS = 3


class DialogSelect(Select[str]):
    def watch_expanded(self, expanded: bool) -> None:
        if not expanded:
            return
        dialogs = [node for node in self.ancestors if isinstance(node, Widget)]
        dialog = next((node for node in dialogs if node.has_class("dialog")), None)
        if dialog is None:
            return
        room = dialog.content_region.bottom - (self.region.y + 1)  # the list opens below
        for overlay in self.query("SelectOverlay"):
            overlay.styles.max_height = max(MIN_ROWS, room)
