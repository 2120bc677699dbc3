"""What the main screen's keys do to tokens: create, pair, edit, delete, rotate, prune,
copy, show.

Each flow is the same shape: a modal asks (a form, or a question that names the
tokens), the change runs in a thread worker (`run_store_action`) and comes back
as a message, the screen says what happened and re-reads the store at once (the
cursor on the token concerned). A refusal from core is said in one line and
changes nothing; a secret is shown once, on its own screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from textual import on, work
from textual.content import Content

from core.model.records import TokenRecord, TokenStatus
from core.model.token_format import Secret
from core.store import Edited, Issued
from tui.clipboard import CopyRoute, copy_text
from tui.error_text import one_line
from tui.messages import IdCopied, StoreActionFailed, TokenIssued, TokensDeleted, TokensPruned
from tui.pairing import PairingLink
from tui.screens.confirm import ConfirmScreen
from tui.screens.create import CreateTokenScreen
from tui.screens.details import DetailsScreen
from tui.screens.edit import EditTokenScreen
from tui.screens.main.store_watch import StoreWatch
from tui.screens.pair_device import PairDeviceScreen
from tui.screens.pairing_link import PairingLinkScreen
from tui.screens.rotate import RotateScreen
from tui.screens.secret import SecretScreen
from tui.store_action import run_store_action
from tui.table_model.texts import display_name, expires_text
from tui.widgets.token_table import TokenTable

PRUNE_LISTED = 6  # tokens named in the prune question; the rest are counted
_FIELD_WORDS = {"expires_at": "expiry"}  # what `Edited.changed` names, in words


def prune_question(expired: Sequence[TokenRecord], now: datetime) -> Content:
    """`Delete the 2 expired tokens?` and a line naming each (the first few)."""
    count = len(expired)
    lines = [
        Content.assemble("  ", (display_name(r), "bold"), f" ({r.id}), {expires_text(r, now)}")
        for r in expired[:PRUNE_LISTED]
    ]
    if count > PRUNE_LISTED:
        lines.append(Content(f"  and {count - PRUNE_LISTED} more"))
    if count == 1:
        question, clients = "Delete the expired token?", "Clients using it are"
    else:
        question, clients = f"Delete the {count} expired tokens?", "Clients using them are"
    return Content.assemble(
        f"{question}\n\n",
        Content("\n").join(lines),
        f"\n\n{clients} refused already; this cannot be undone.",
    )


class TokenActions(StoreWatch):
    """The token flows, each from its key (or the palette) to what the screen says after."""

    # --- create and edit ---------------------------------------------------------------

    def action_new_token(self) -> None:
        if self.snapshot is None or self.refuses_changes():
            return
        self.app.push_screen(
            CreateTokenScreen(
                self.store,
                self.snapshot,
                home=self.auth_app.home,
                cwd=self.auth_app.cwd,
                cursor_blink=self.auth_app.cursor_blink,
            ),
            callback=self._created,
        )

    def _created(self, issued: Issued | None) -> None:
        if issued is None:
            return
        self._after_write(select=issued.record.id)
        self._show_secret(issued.secret, issued.record, "created")

    def _show_secret(self, secret: Secret, record: TokenRecord, verb: str) -> None:
        self.app.push_screen(
            SecretScreen(secret, record, verb=verb, now=self.store.now(), home=self.auth_app.home)
        )

    # --- pair a device -------------------------------------------------------------------

    def action_pair_device(self) -> None:
        if self.snapshot is None or self.refuses_changes():
            return
        app = self.auth_app
        self.app.push_screen(
            PairDeviceScreen(
                self.store,
                self.snapshot,
                gateway_url=app.gateway_url,
                home=app.home,
                cwd=app.cwd,
                cursor_blink=app.cursor_blink,
            ),
            callback=self._paired,
        )

    def _paired(self, paired: PairingLink | None) -> None:
        if paired is None:
            return
        self.auth_app.gateway_url = paired.base  # asked once per session
        self._after_write(select=paired.record.id)
        self.app.push_screen(PairingLinkScreen(paired, self.store, self.auth_app.home))

    def action_edit_token(self) -> None:
        record = self.selected
        if record is None or self.snapshot is None or self.refuses_changes():
            return
        self.app.push_screen(
            EditTokenScreen(
                record,
                self.store,
                self.snapshot,
                home=self.auth_app.home,
                cwd=self.auth_app.cwd,
                cursor_blink=self.auth_app.cursor_blink,
            ),
            callback=self._edited,
        )

    def _edited(self, edited: Edited | None) -> None:
        if edited is None:
            return
        record = edited.after
        label = f"'{display_name(record)}' ({record.id})"
        if not edited.changed:
            self.auth_app.say(f"Nothing changed: {label} already has those settings.", timeout=4)
            return
        fields = ", ".join(_FIELD_WORDS.get(name, name) for name in edited.changed)
        self.auth_app.say(f"Saved {label}: {fields}. Its secret is unchanged.", title="Edited")
        self._after_write(select=record.id)

    # --- delete and rotate -------------------------------------------------------------

    def action_delete_token(self) -> None:
        record = self.selected
        if record is None or self.refuses_changes():
            return
        body = Content.assemble(
            "Delete the token '",
            (display_name(record), "bold"),
            f"' ({record.id})?\n\nEvery client using it is refused at once. This cannot be undone.",
        )
        self.app.push_screen(
            ConfirmScreen("Delete token", body, confirm="Delete", danger=True),
            callback=partial(self._confirmed, self._delete, record.id),
        )

    @staticmethod
    def _confirmed(run: Callable[[str], object], token_id: str, ok: bool | None) -> None:
        if ok:
            run(token_id)

    def _delete(self, token_id: str) -> None:
        run_store_action(self, "delete", partial(self.store.delete, [token_id]), TokensDeleted)

    @on(TokensDeleted)
    def _deleted(self, message: TokensDeleted) -> None:
        for record in message.records:
            self.auth_app.say(f"Deleted the token '{display_name(record)}' ({record.id}).")
        self._after_write()

    def action_rotate_token(self) -> None:
        record = self.selected
        if record is None or self.refuses_changes():
            return
        self.app.push_screen(
            RotateScreen(record, self.store, cursor_blink=self.auth_app.cursor_blink),
            callback=partial(self._rotate_confirmed, record.id),
        )

    def _rotate_confirmed(self, token_id: str, expires: str | None) -> None:
        if expires is not None:
            run_store_action(
                self,
                "rotate",
                partial(self.store.rotate, token_id, expires=expires),
                partial(TokenIssued, verb="rotated"),
            )

    @on(TokenIssued)
    def _issued(self, message: TokenIssued) -> None:
        self._after_write()
        self._show_secret(message.issued.secret, message.issued.record, message.verb)

    @on(StoreActionFailed)
    def _action_failed(self, message: StoreActionFailed) -> None:
        self.auth_app.say(
            one_line(message.error), title=f"Could not {message.action}", severity="error"
        )
        self._after_write()

    # --- prune -------------------------------------------------------------------------

    def action_prune(self) -> None:
        """Ask before deleting the expired tokens, naming them; focus on Cancel."""
        expired = (
            [row.record for row in self.view.rows if row.status is TokenStatus.EXPIRED]
            if self.view
            else []
        )
        if not expired:
            self.auth_app.say(
                "No token has expired: there is nothing to prune.",
                title="Nothing to prune",
                timeout=4,
            )
            return
        if self.refuses_changes():
            return
        self.app.push_screen(
            ConfirmScreen(
                "Prune expired tokens",
                prune_question(expired, self.view.now if self.view else self.store.now()),
                confirm="Delete expired",
                danger=True,
            ),
            callback=partial(self._prune_confirmed, tuple(r.id for r in expired)),
        )

    def _prune_confirmed(self, token_ids: tuple[str, ...], ok: bool | None) -> None:
        if ok:
            # Only the tokens named in the question, and only if still expired
            # (a token rotated meanwhile by the CLI is kept).
            run_store_action(self, "prune", partial(self.store.prune, only=token_ids), TokensPruned)

    @on(TokensPruned)
    def _pruned(self, message: TokensPruned) -> None:
        count = len(message.records)
        if count == 0:
            self.auth_app.say("No token was deleted: none of them is expired any more.")
        else:
            names = ", ".join(f"'{display_name(r)}'" for r in message.records[:PRUNE_LISTED])
            more = f" and {count - PRUNE_LISTED} more" if count > PRUNE_LISTED else ""
            noun = "token" if count == 1 else "tokens"
            self.auth_app.say(f"Deleted {count} expired {noun}: {names}{more}.")
        self._after_write()

    # --- copy the id -------------------------------------------------------------------

    def action_copy_id(self) -> None:
        record = self.selected
        if record is not None:
            self._copy_id(record)

    @work(thread=True, group="clipboard", exit_on_error=False, description="copy id")
    def _copy_id(self, record: TokenRecord) -> None:
        app = self.auth_app
        route, reason = copy_text(record.id, app.clipboard_backend, app.send_osc52)
        self.post_message(IdCopied(record, route, reason))

    @on(IdCopied)
    def _id_copied(self, message: IdCopied) -> None:
        where = (
            "the clipboard"
            if message.route is CopyRoute.SYSTEM
            else "the terminal's clipboard (OSC 52)"
        )
        self.auth_app.say(
            f"Copied the id {message.record.id} of '{display_name(message.record)}' to {where}.",
            title="Id copied",
            timeout=4,
        )

    # --- details -----------------------------------------------------------------------

    def action_details(self) -> None:
        record = self.selected
        if record is None or self.snapshot is None:
            return
        self.app.push_screen(
            DetailsScreen(record, self.store, self.snapshot, self.auth_app.home),
            callback=self._from_details,
        )

    def _from_details(self, choice: str | None) -> None:
        if choice == "edit":
            self.action_edit_token()
        elif choice == "delete":
            self.action_delete_token()
        elif choice == "rotate":
            self.action_rotate_token()

    @on(TokenTable.RowSelected, "#tokens")
    def _row_selected(self) -> None:
        self.action_details()
