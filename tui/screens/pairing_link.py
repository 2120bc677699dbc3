"""The pairing modal: a device's one-time link, as a QR code and as text.

The phone scans the code (or the link is sent to it) and signs its browser in
as the token; the token's secret is never on screen. The link works once, for
5 minutes: the modal counts down, says when the link was used (and by which
browser, from the store's sessions, as the main screen re-reads the store), and
offers a new link once it has expired unused. Copy puts the link on the
clipboard as the secret modal does, and empties it again later.

It fits 80x24: the text on the left, the code on the right (see
`tui.widgets.qr_code` for its size). On a narrower terminal the text comes
first and the code below it, and the modal scrolls.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.model.records import SessionRecord
from core.store import Snapshot, Store
from tui.clipboard import NO_CLIPBOARD, CopyRoute, copy_text, fingerprint
from tui.error_text import one_line
from tui.keys import PairingKeys, named
from tui.messages import Copied, LinkIssued, StoreActionFailed
from tui.pairing import PairingLink, new_link
from tui.session_text import browser_words, client_words
from tui.store_action import run_store_action
from tui.table_model.texts import display_name, token_summary
from tui.widgets.dialog_button import DialogButton
from tui.widgets.key_footer import KeyFooter
from tui.widgets.qr_code import QrCode

if TYPE_CHECKING:
    from tui.app import AuthApp

SIDE_BY_SIDE = 80
"""Columns the text and the code need side by side; below, the code goes under."""
_CHROME = 2 + 1  # the dialog's border, the footer


class PairingLinkScreen(ModalScreen[None]):
    """Show a pairing link until Done; the main screen tells it of store changes."""

    AUTO_FOCUS = "#copy"
    BINDINGS: ClassVar[list[BindingType]] = [
        *PairingKeys.BINDINGS,
    ]

    def __init__(self, paired: PairingLink, store: Store, home: Path | None) -> None:
        super().__init__()
        self._paired = paired
        self._store = store
        self._home = home
        self._outcome: Content | None = None  # used, withdrawn or the token gone: final
        self.copied: CopyRoute | None = None

    @property
    def auth_app(self) -> AuthApp:
        return cast("AuthApp", self.app)

    @property
    def paired(self) -> PairingLink:
        return self._paired

    # --- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        record = self._paired.record
        with (
            Vertical(classes="dialog pairing"),
            VerticalScroll(id="pairing-body"),
            Horizontal(id="pairing-columns"),
        ):
            with Vertical(id="pairing-side"):
                yield Static(
                    Content.assemble("Pair a device: ", (display_name(record), "bold")),
                    classes="dialog-title",
                )
                yield Static(
                    Content("Scan the code with the device's camera, or open this link on it:"),
                    id="pairing-intro",
                )
                yield Static(id="copy-outcome")
                yield Static(Content(self._paired.link), id="pairing-link")
                yield Static(id="pairing-state")
                yield Static(id="pairing-summary", classes="muted")
                with Horizontal(classes="dialog-buttons"):
                    yield DialogButton("Copy link", id="copy", variant="primary")
                    yield DialogButton("Done", id="done")
            yield QrCode(self._paired.link, id="qr")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#copy-outcome").display = False
        self._show_state()
        self.set_interval(1.0, self._show_state, name="pairing countdown")

    def on_resize(self) -> None:
        width, height = self.app.size
        stacked = width < SIDE_BY_SIDE
        self.query_one("#pairing-columns").set_class(stacked, "-stacked")
        body = self.query_one("#pairing-body")
        body.styles.max_height = max(3, height - _CHROME)
        self.query_one(QrCode).fit(height - _CHROME)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#pairing-body").scroll_relative(y=lines, animate=False, immediate=True)

    # --- the link's state: counting down, used, expired ------------------------------

    def _now(self) -> datetime:
        return self._store.now()

    @property
    def expired(self) -> bool:
        return self._outcome is None and self._now() >= self._paired.pairing.expires_at

    def _show_state(self) -> None:
        now = self._now()
        record = self._paired.record
        summary = f"{token_summary(record, now, self._home)}. The device never sees its secret."
        self.query_one("#pairing-summary", Static).update(Content(summary))
        state = self.query_one("#pairing-state", Static)
        if self._outcome is not None:
            state.update(self._outcome)
            return
        left = self._paired.pairing.expires_at - now
        seconds = int(left.total_seconds())
        if seconds <= 0:
            state.set_class(True, "-expired")
            state.update(
                Content(
                    f"This link expired unused: press {named(PairingKeys.NEW_LINK)} for a new one."
                )
            )
        else:
            state.set_class(False, "-expired")
            until = self._paired.pairing.expires_at.strftime("%H:%M")
            state.update(
                Content.assemble(
                    "Works ",
                    ("once", "bold"),
                    f", within {seconds // 60}:{seconds % 60:02d} (until {until} UTC).",
                )
            )
        self.refresh_bindings()

    def store_changed(self, snapshot: Snapshot[Hashable]) -> None:
        """The store was read again: say if the link was used, or cannot be any more."""
        if self._outcome is not None:
            return
        pairing = self._paired.pairing
        token = snapshot.by_id(pairing.token_id)
        if token is None:
            self._finish("The token was deleted: the link works no more.", good=False)
            return
        if any(p.digest == pairing.digest for p in snapshot.pairings):
            return  # not used yet
        used = _signed_in_by(snapshot.sessions_of(token.id), pairing.created_at)
        if used is not None:
            self._finish(
                f"✓ Used: a browser signed in from {client_words(used)} "
                f"({browser_words(used)}). The link works no more.",
                good=True,
            )
        elif not self.expired:
            self._finish(
                "The link was withdrawn: the token's sessions were ended, or it was edited "
                "or rotated.",
                good=False,
            )

    def _finish(self, text: str, *, good: bool) -> None:
        self._outcome = Content(text)
        state = self.query_one("#pairing-state", Static)
        state.set_class(good, "-used")
        state.set_class(not good, "-expired")
        self._show_state()

    # --- a new link --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == PairingKeys.NEW_LINK.action:
            return True if self.expired else None  # dimmed while the link still works
        return True

    def action_new_link(self) -> None:
        if not self.expired:
            return
        run_store_action(
            self,
            "make a new link",
            partial(new_link, self._store, self._paired.base, self._paired.record),
            LinkIssued,
            group="pairing",
            exclusive=True,
        )

    @on(LinkIssued)
    def _link_issued(self, message: LinkIssued) -> None:
        message.stop()
        self._paired = message.paired
        self.query_one("#pairing-link", Static).update(Content(message.paired.link))
        self.query_one(QrCode).show(message.paired.link)
        self.query_one("#copy-outcome").display = False
        self.query_one("#pairing-intro").display = True
        self.query_one("#copy", Button).label = "Copy link"
        self.copied = None
        self._show_state()

    @on(StoreActionFailed)
    def _failed(self, message: StoreActionFailed) -> None:
        message.stop()
        self._finish(f"No new link: {one_line(message.error)}.", good=False)

    # --- copy ----------------------------------------------------------------------------

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        self.query_one("#copy", Button).disabled = True
        self._copy(self._paired.link)

    @work(thread=True, exclusive=True, group="copy", exit_on_error=False, description="copy link")
    def _copy(self, link: str) -> None:
        route, reason = copy_text(link, self.auth_app.clipboard_backend, self.auth_app.send_osc52)
        self.post_message(Copied(route, fingerprint(link), reason))

    @on(Copied)
    def _copied(self, message: Copied) -> None:
        message.stop()
        self.copied = message.route
        app = self.auth_app
        app.schedule_clipboard_clear(message.digest, message.route, "The pairing link")
        later = (
            f" It will be cleared in {app.clipboard_clear_after:g} s."
            if app.clipboard_clear_after is not None
            else ""
        )
        button = self.query_one("#copy", Button)
        button.disabled = False
        outcome = self.query_one("#copy-outcome", Static)
        if message.route is CopyRoute.SYSTEM:
            button.label = "Copied ✓"
            outcome.set_class(False, "-warning")
            outcome.update(Content(f"✓ Copied to the clipboard.{later} Send it to the device:"))
        else:
            button.label = "Sent ✓"
            why = "there is no system clipboard here"
            if message.system_error and message.system_error != NO_CLIPBOARD:
                why = f"the system clipboard failed ({message.system_error})"
            outcome.set_class(True, "-warning")
            outcome.update(Content(f"✓ Sent to the terminal's clipboard (OSC 52): {why}.{later}"))
        outcome.display = True
        self.query_one("#pairing-intro").display = False

    # --- close ---------------------------------------------------------------------------

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        self.dismiss(None)


def _signed_in_by(sessions: tuple[SessionRecord, ...], since: datetime) -> SessionRecord | None:
    """The session a pairing link began (the newest by a link since it was made)."""
    found = [s for s in sessions if s.via == "pairing" and s.created_at >= since]
    return max(found, key=lambda s: s.created_at) if found else None
