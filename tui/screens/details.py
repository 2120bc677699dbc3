"""Everything the store knows about one token - which never includes its secret -
and, in words, what it can and cannot do on opencode (`core.present.abilities`),
and the browsers signed in as it (its sessions, kept up to date as the main
screen re-reads the store), which `l` signs out after asking."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.model.records import SessionRecord, TokenRecord, TokenStatus
from core.model.text import escape_controls, format_timestamp
from core.present import abilities, counted, relative_time, shorten
from core.store import Snapshot, Store
from tui.commands import DetailsCommands, ProviderSet
from tui.error_text import one_line
from tui.keys import DetailsKeys
from tui.messages import SessionsEnded, StoreActionFailed
from tui.screens.confirm import ConfirmScreen
from tui.session_text import ending_words, live_pairings, live_sessions, sessions_text
from tui.store_action import run_store_action
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
    record: TokenRecord,
    now: datetime,
    home: Path | None = None,
    sessions: tuple[SessionRecord, ...] = (),
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
        ("last used", _last_used(record, now)),
        ("sessions", sessions_text(live_sessions(sessions, now), now)),
        ("hint", Content(escape_controls(record.hint))),
        ("legacy", legacy),
    ]


def _last_used(record: TokenRecord, now: datetime) -> Content:
    when = _when(record.last_used_at, now)
    if record.last_used_at is None or not record.last_used_from:
        return when
    return Content.assemble(when, f" from {escape_controls(record.last_used_from)}")


# Rows the dialog needs around the fields: border, title, buttons, footer.
_CHROME = 2 + 2 + 4 + 1


class DetailsScreen(ModalScreen[str | None]):
    """Dismisses with "edit", "delete" or "rotate" when the user picks one, else None.

    Ending the token's sessions happens here, and the modal stays open to show it.
    """

    AUTO_FOCUS = "#close"
    COMMANDS: ClassVar[ProviderSet] = {DetailsCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(DetailsKeys.BINDINGS)

    def __init__(
        self, record: TokenRecord, store: Store, snapshot: Snapshot[Hashable], home: Path | None
    ) -> None:
        super().__init__()
        self._record = record
        self._store = store
        self._snapshot = snapshot
        self._now = store.now()
        self._home = home

    @property
    def record(self) -> TokenRecord:
        return self._record

    @property
    def sessions(self) -> list[SessionRecord]:
        """The browsers signed in as the token now (newest first)."""
        return live_sessions(self._snapshot.sessions_of(self._record.id), self._now)

    @property
    def pending_links(self) -> int:
        return live_pairings(self._snapshot.pairings, self._record.id, self._now)

    def compose(self) -> ComposeResult:
        rows = detail_rows(
            self._record, self._now, self._home, self._snapshot.sessions_of(self._record.id)
        )
        with Vertical(classes="dialog details"):
            yield Static(Content("Token details"), classes="dialog-title")
            with VerticalScroll(id="details-body"):
                for label, value in rows:
                    with Horizontal(classes="field"):
                        yield Static(label, classes="field-label")
                        field_id = "detail-" + label.replace(" ", "-")
                        yield Static(value, classes="field-value", id=field_id)
                yield Static(
                    Content("The secret is never stored, so it cannot be shown again."),
                    classes="muted",
                )
            # what ending the sessions did: here, not in a toast over the buttons
            yield Static(id="details-outcome")
            with Horizontal(classes="dialog-buttons"):
                yield DialogButton("Edit…", id="edit")
                yield DialogButton("Rotate…", id="rotate")
                yield DialogButton("Delete…", id="delete", variant="error")
                yield DialogButton("Close", id="close", variant="primary")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#details-outcome").display = False

    def on_resize(self) -> None:
        # Everything on one page where it fits; else the fields scroll, and the buttons stay.
        body = self.query_one("#details-body")
        outcome = self.query_one("#details-outcome")
        shown = outcome.outer_size.height if outcome.display else 0
        body.styles.max_height = max(3, self.size.height - _CHROME - shown)

    # --- kept up to date --------------------------------------------------------------

    def store_changed(self, snapshot: Snapshot[Hashable]) -> None:
        """The main screen read the store again: show the token's sessions as they are."""
        self._snapshot = snapshot
        self._now = self._store.now()
        record = snapshot.by_id(self._record.id)
        if record is not None:
            self._record = record
        self._show_sessions()

    def _show_sessions(self) -> None:
        self.query_one("#detail-sessions", Static).update(sessions_text(self.sessions, self._now))

    # --- ending the sessions ------------------------------------------------------------

    def action_end_sessions(self) -> None:
        """Ask, naming the token and how many browsers; focus on Cancel."""
        sessions, links = len(self.sessions), self.pending_links
        record = self._record
        if not sessions and not links:
            self._say(
                f"No browser is signed in as '{display_name(record)}', and it has no unused "
                "pairing link: there is nothing to end."
            )
            return
        what = ending_words(sessions, links)
        body = Content.assemble(
            f"End {what} of the token '",
            (display_name(record), "bold"),
            f"' ({record.id})?\n\nThose browsers are signed out at once and their next "
            "request is refused; a pairing link not used yet stops working. The token "
            "itself keeps working.",
        )
        self.app.push_screen(
            ConfirmScreen("End sessions", body, confirm="End sessions", danger=True),
            callback=self._end_confirmed,
        )

    def _end_confirmed(self, ok: bool | None) -> None:
        if ok:
            run_store_action(
                self,
                "end the sessions",
                partial(self._store.end_sessions_of, self._record.id),
                SessionsEnded,
                group="end-sessions",
                exclusive=True,
            )

    @on(SessionsEnded)
    def _ended(self, message: SessionsEnded) -> None:
        message.stop()
        ended = {s.id for s in message.sessions}
        self._snapshot = _without(self._snapshot, self._record.id, ended)
        self._show_sessions()
        count = len([s for s in message.sessions if not s.is_expired(self._now)])
        name = display_name(self._record)
        self._say(
            f"✓ Ended {counted(count, 'browser session')} of '{name}': signed out."
            if count
            else f"✓ No browser was signed in as '{name}' any more; its pairing links ended."
        )

    @on(StoreActionFailed)
    def _end_failed(self, message: StoreActionFailed) -> None:
        message.stop()
        self._say(f"✗ Could not {message.action}: {one_line(message.error)}.", problem=True)

    def _say(self, text: str, *, problem: bool = False) -> None:
        outcome = self.query_one("#details-outcome", Static)
        outcome.set_class(problem, "-problem")
        outcome.update(Content(text))
        outcome.display = True
        self.call_after_refresh(self.on_resize)

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


def _without(snapshot: Snapshot[Hashable], token_id: str, ended: set[str]) -> Snapshot[Hashable]:
    """`snapshot` less the ended sessions and the token's pairing links (what
    `end_sessions_of` removed), until the main screen's next read says more."""
    return replace(
        snapshot,
        sessions=tuple(s for s in snapshot.sessions if s.id not in ended),
        pairings=tuple(p for p in snapshot.pairings if p.token_id != token_id),
    )
