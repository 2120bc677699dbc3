"""The footer: the keys of the screen or modal it is on, as many as fit on one line.

Textual's `Footer` lists every shown binding and lets the rest run off the right
edge (`esc ▏^p paletter` at 80 columns with a filter). `KeyFooter` leaves keys
out instead, least useful first, until the line fits; the command palette key
stays, and `?` (the full list) stays, so every key is still one step away.

Which keys go first is the screen's choice: `FOOTER_ORDER` (binding ids, in
the order shown; others follow) and `FOOTER_DROP` (binding ids, the first one
left out first; keys not listed there are never left out). Every modal has its
own footer, so the keys shown are always those of the screen in front.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ITEM_GAP = 1  # a compact FooterKey's right margin
PALETTE_EXTRA = 2  # the palette key's border on the left, and its margin


class FooterItem(NamedTuple):
    binding: Binding
    key_display: str
    enabled: bool
    tooltip: str

    @property
    def width(self) -> int:
        """Cells taken on a compact footer: `key description` and the gap after it."""
        text = cell_len(self.key_display)
        if self.binding.description:
            text += 1 + cell_len(self.binding.description)
        return text + ITEM_GAP


def fit_items(
    items: Sequence[FooterItem], width: int, drop_order: Sequence[str]
) -> list[FooterItem]:
    """`items` less those left out, in `drop_order` order, until they fit in `width`."""
    kept = list(items)
    for binding_id in drop_order:
        if sum(item.width for item in kept) <= width:
            break
        kept = [item for item in kept if item.binding.id != binding_id]
    return kept


class KeyFooter(Footer):
    """A compact footer that never runs off the edge (see the module docstring)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, compact=True)
        self._fitted_width = -1

    def items(self) -> list[FooterItem]:
        """Every shown binding of the screen, one per action, in FOOTER_ORDER."""
        seen: set[str] = set()
        items: list[FooterItem] = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            items.append(FooterItem(binding, self.app.get_key_display(binding), enabled, tooltip))
        order: Sequence[str] = getattr(self.screen, "FOOTER_ORDER", ())
        rank = {binding_id: n for n, binding_id in enumerate(order)}
        return sorted(items, key=lambda item: rank.get(item.binding.id or "", len(rank)))

    def palette_item(self) -> FooterItem | None:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return None
        app = self.app
        active = self.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
        if active is not None:
            _node, binding, enabled, tooltip = active
            return FooterItem(binding, app.get_key_display(binding), enabled, tooltip)
        # A modal's own bindings leave out the app's; the palette key (a priority
        # binding of the app) still opens the palette over it.
        binding = Binding(
            app.COMMAND_PALETTE_BINDING,
            "app.command_palette",
            "palette",
            key_display=app.COMMAND_PALETTE_DISPLAY,
            tooltip="Open the command palette",
        )
        return FooterItem(binding, app.get_key_display(binding), True, binding.tooltip)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.app.size.width
        self._fitted_width = width
        palette = self.palette_item()
        if palette is not None:
            width -= palette.width + PALETTE_EXTRA - ITEM_GAP
        drop_order: Sequence[str] = getattr(self.screen, "FOOTER_DROP", ())
        for item in fit_items(self.items(), width, drop_order):
            yield FooterKey(
                item.binding.key,
                item.key_display,
                item.binding.description,
                item.binding.action,
                disabled=not item.enabled,
                tooltip=item.tooltip,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            yield FooterKey(
                palette.binding.key,
                palette.key_display,
                palette.binding.description,
                palette.binding.action,
                classes="-command-palette",
                disabled=not palette.enabled,
                tooltip=palette.binding.tooltip or palette.binding.description,
            )

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and self.app.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
