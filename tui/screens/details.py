"""Everything the store knows about one token - which never includes its secret."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.display import format_timestamp, relative_time
from core.models import TokenRecord, TokenStatus
from tui.table_model import display_name, expires_text, long_permissions
from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter

_STATUS_STYLE = {
    TokenStatus.ACTIVE: "$success",
    TokenStatus.EXPIRING: "$warning",
    TokenStatus.EXPIRED: "$error",
}


def _when(moment: datetime | None, now: datetime, relative: str | None = None) -> Content:
    if moment is None:
        return Content("never")
    return Content.assemble(
        format_timestamp(moment), (f"  ({relative or relative_time(moment, now)})", "dim")
    )


def detail_rows(record: TokenRecord, now: datetime) -> list[tuple[str, Content]]:
    status = record.status(now)
    legacy = (
        Content.assemble(
            ("yes", "bold $warning"),
            " - a PR #8217 secret, migrated; rotate it to get an ocat_ token",
        )
        if record.legacy
        else Content("no")
    )
    return [
        ("name", Content(display_name(record))),
        ("id", Content(record.id)),
        ("permissions", Content(long_permissions(record.permissions))),
        ("status", Content.styled(status.value, f"bold {_STATUS_STYLE[status]}")),
        ("created", _when(record.created_at, now)),
        ("expires", _when(record.expires_at, now, expires_text(record, now))),
        ("last used", _when(record.last_used_at, now)),
        ("hint", Content(record.hint)),
        ("legacy", legacy),
    ]


class DetailsScreen(ModalScreen[str | None]):
    """Dismisses with "delete" or "rotate" when the user picks one, else None."""

    AUTO_FOCUS = "#close"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="details.close"),
        Binding("q", "close", "Close", show=False, id="details.q"),
        Binding("d", "choose('delete')", "Delete", id="details.delete"),
        Binding("r", "choose('rotate')", "Rotate", id="details.rotate"),
    ]

    def __init__(self, record: TokenRecord, now: datetime) -> None:
        super().__init__()
        self._record = record
        self._now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog details"):
            yield Static(Content("Token details"), classes="dialog-title")
            for label, value in detail_rows(self._record, self._now):
                with Horizontal(classes="field"):
                    yield Static(label, classes="field-label")
                    field_id = "detail-" + label.replace(" ", "-")
                    yield Static(value, classes="field-value", id=field_id)
            yield Static(
                Content("The secret is never stored, so it cannot be shown again."),
                classes="muted",
            )
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Rotate…", id="rotate")
                yield DialogButton("Delete…", id="delete", variant="error")
                yield DialogButton("Close", id="close", variant="primary")
        yield KeyFooter()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#rotate")
    def _rotate(self) -> None:
        self.dismiss("rotate")

    @on(Button.Pressed, "#delete")
    def _delete(self) -> None:
        self.dismiss("delete")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
