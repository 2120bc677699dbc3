"""The pairing form (`P`): the create form's fields, and the gateway's address.

A device gets a token of its own - named `device-N` unless named, for 30 days
unless told otherwise, as the CLI's `pair` makes it - and a one-time link to
the gateway's pairing page. The address is checked as typed with core's rule
(`gateway_base`: http(s)://HOST[:PORT] and nothing after it) and remembered
until the app quits, so a second device asks only for what differs. On success
the modal dismisses with the `PairingLink`; the token's secret is never shown.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Static

from core.model.errors import InputError
from core.present import clear_text_beyond_this_machine, gateway_base, pairing_link
from core.store import Snapshot, Store, generated_name
from tui.messages import DevicePaired
from tui.pairing import DEFAULT_EXPIRY, NAME_STEM, PairingLink, pair_device
from tui.screens.create import TokenForm
from tui.store_action import run_store_action
from tui.widgets.directories_field import DirectoriesField
from tui.widgets.expiry_field import ExpiryField

URL_HELP = "The gateway's address as the device reaches it: https://HOST[:PORT] (or http://)."


def address_problem(text: str) -> str | None:
    """Why `text` cannot be the gateway's address (core's words), or None."""
    try:
        gateway_base(text, called="the address")
    except InputError as exc:
        return exc.message
    return None


class PairDeviceScreen(TokenForm[PairingLink | None]):
    """Dismisses with the device's link, or None when cancelled."""

    AUTO_FOCUS = "#gateway-url"
    TITLE_TEXT = "Pair a device"
    SUBMIT_LABEL = "Pair"
    BUSY_LABEL = "Pairing…"
    SUBMIT_ID = "pair"
    DISCARD_TITLE = "Discard the pairing?"
    DISCARD_BODY = "What you filled in is lost; no token or link was made."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="pair.cancel")
    ]

    def __init__(
        self,
        store: Store,
        snapshot: Snapshot[Hashable],
        *,
        gateway_url: str = "",
        home: Path | None = None,
        cwd: Path | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__(store, snapshot, home=home, cwd=cwd, cursor_blink=cursor_blink)
        self._gateway_url = gateway_url
        self._default_name = generated_name({r.name for r in snapshot.records}, NAME_STEM)

    def on_mount(self) -> None:
        super().on_mount()
        self._check_url()
        if self._gateway_url:
            self.query_one("#name", Input).focus()  # the address is remembered: next field

    # --- the fields ----------------------------------------------------------------

    def extra_fields(self) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Static("Gateway URL", classes="field-label")
            yield self._input("gateway-url", "https://HOST:PORT", self._gateway_url)
        yield Static(id="gateway-url-feedback", classes="feedback")

    def extra_problems(self) -> list[tuple[Widget, str | None]]:
        return [(self.query_one("#gateway-url"), self._check_url())]

    def extra_state(self) -> tuple[object, ...]:
        return (self.gateway_url,)

    def expiry_field(self) -> ExpiryField:
        return ExpiryField(
            initial=DEFAULT_EXPIRY, clock=self._store.now, cursor_blink=self._cursor_blink
        )

    def name_hint(self, value: str) -> str:
        return f"Leave empty to name it {self._default_name}." if value == "" else ""

    @property
    def gateway_url(self) -> str:
        return self.query_one("#gateway-url", Input).value

    def _check_url(self) -> str | None:
        field = self.query_one("#gateway-url", Input)
        problem = address_problem(field.value)
        if problem is not None and not field.value.strip():
            # Not marked before anything is typed: said as help, refused on Pair.
            field.remove_class("-invalid")
            self._feedback("gateway-url-feedback", None, URL_HELP)
            return problem
        field.set_class(problem is not None, "-invalid")
        if problem is not None:
            self._feedback("gateway-url-feedback", problem)
            return problem
        base = gateway_base(field.value)
        example = pairing_link(base, "…")
        if clear_text_beyond_this_machine(base):
            warning = Content.assemble(
                ("⚠ ", "bold"),
                "http:// - the link's code and the session cookie cross the network in "
                "clear text; use https:// beyond this machine.",
            )
            self._feedback("gateway-url-feedback", None, warning, warning=True)
        else:
            self._feedback("gateway-url-feedback", None, f"The link will be {example}")
        return None

    @on(Input.Changed, "#gateway-url")
    def _url_changed(self) -> None:
        self._check_url()

    # --- submit ----------------------------------------------------------------------

    def action_pair(self) -> None:
        self.action_submit()

    def submit(self) -> None:
        url = self.gateway_url
        name, note = self.name_value, self.note_value
        self._busy(True)
        run_store_action(
            self,
            "pair",
            partial(
                pair_device,
                self._store,
                gateway_base(url),
                name=name if name != "" else None,
                permissions=self._permissions(),
                expires=self.query_one(ExpiryField).spec,
                note=note if note.strip() else None,
                directories=self.query_one(DirectoriesField).directories,
            ),
            DevicePaired,
            group="pair",
            exclusive=True,
        )

    @on(DevicePaired)
    def _paired(self, message: DevicePaired) -> None:
        message.stop()
        self.dismiss(message.paired)
