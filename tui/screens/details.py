"""Everything the store knows about one token - which never includes its secret -
and, in words, what it can and cannot do on opencode (`core.present.abilities`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls, format_timestamp
from core.present import abilities, relative_time, shorten
from tui.table_model.texts import display_name, expires_text, long_permissions
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


def directories_text(record: TokenRecord, home: Path | None) -> Content:
    if not record.directories:
        return Content("every directory the server serves")
    return Content("\n".join(escape_controls(shorten(d, home)) for d in record.directories))


def abilities_text(record: TokenRecord, home: Path | None) -> Content:
    """Where, then `can ...` and `cannot ...` on lines of their own."""
    found = abilities(record.permissions, record.directories, home)
    lines = [Content(escape_controls(found.where) + ":")]
    can = "; ".join(found.can) if found.can else "nothing"
    lines.append(Content.assemble(("can ", "bold $text-success"), can))
    if found.cannot:
        lines.append(Content.assemble(("cannot ", "bold $text-error"), ", ".join(found.cannot)))
    return Content("\n").join(lines)


def detail_rows(
    record: TokenRecord, now: datetime, home: Path | None = None
) -> list[tuple[str, Content]]:
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
        (
            "note",
            Content(escape_controls(record.note))
            if record.note
            else Content.styled("none", "$text-muted"),
        ),
        ("permissions", Content(long_permissions(record.permissions))),
        ("directories", directories_text(record, home)),
        ("on opencode", abilities_text(record, home)),
        ("status", Content.styled(status.value, f"bold {_STATUS_STYLE[status]}")),
        ("created", _when(record.created_at, now)),
        ("expires", _when(record.expires_at, now, expires_text(record, now))),
        ("last used", _when(record.last_used_at, now)),
        ("hint", Content(escape_controls(record.hint))),
        ("legacy", legacy),
    ]


# Rows the dialog needs around the fields: border, title, buttons, footer.
_CHROME = 2 + 2 + 4 + 1


class DetailsScreen(ModalScreen[str | None]):
    """Dismisses with "edit", "delete" or "rotate" when the user picks one, else None."""

    AUTO_FOCUS = "#close"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="details.close"),
        Binding("q", "close", "Close", show=False, id="details.q"),
        Binding("e", "choose('edit')", "Edit", id="details.edit"),
        Binding("d", "choose('delete')", "Delete", id="details.delete"),
        Binding("r", "choose('rotate')", "Rotate", id="details.rotate"),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False, id="details.up"),
        Binding("down,j", "scroll(1)", "Scroll down", show=False, id="details.down"),
        Binding("left", "app.focus_previous", "Previous", show=False, id="details.left"),
        Binding("right", "app.focus_next", "Next", show=False, id="details.right"),
    ]

    def __init__(self, record: TokenRecord, now: datetime, home: Path | None = None) -> None:
        super().__init__()
        self._record = record
        self._now = now
        self._home = home

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog details"):
            yield Static(Content("Token details"), classes="dialog-title")
            with VerticalScroll(id="details-body"):
                for label, value in detail_rows(self._record, self._now, self._home):
                    with Horizontal(classes="field"):
                        yield Static(label, classes="field-label")
                        field_id = "detail-" + label.replace(" ", "-")
                        yield Static(value, classes="field-value", id=field_id)
                yield Static(
                    Content("The secret is never stored, so it cannot be shown again."),
                    classes="muted",
                )
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Edit…", id="edit")
                yield DialogButton("Rotate…", id="rotate")
                yield DialogButton("Delete…", id="delete", variant="error")
                yield DialogButton("Close", id="close", variant="primary")
        yield KeyFooter()

    def on_resize(self) -> None:
        # Everything on one page where it fits; else the fields scroll, and the buttons stay.
        body = self.query_one("#details-body")
        body.styles.max_height = max(3, self.size.height - _CHROME)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#details-body").scroll_relative(y=lines, animate=False, immediate=True)

    @on(Button.Pressed, "#edit")
    def _edit(self) -> None:
        self.dismiss("edit")

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
