"""The expiry of a token, chosen in a form: create, edit, and rotate with a new expiry.

A selector (7d, 30d, 90d, 180d, 1y, never, custom) and, for custom, a text
field checked with core's `parse_expiry` as you type; the line under it says
when the token will expire, or what is wrong. Its example date is derived from
the store's clock, so it is always in the future. The edit form offers one more
choice, first and selected: keep the token's current expiry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Select, Static

from core.model.errors import InvalidExpiry
from core.model.expiry import parse_expiry
from core.model.text import format_timestamp
from core.present import relative_time
from tui.widgets.dialog_select import DialogSelect
from tui.widgets.text_field import TextField

CUSTOM = "custom"
KEEP = "keep"
EXPIRY_CHOICES: tuple[tuple[str, str], ...] = (
    ("7 days", "7d"),
    ("30 days", "30d"),
    ("90 days", "90d"),
    ("180 days", "180d"),
    ("1 year", "1y"),
    ("never", "never"),
    ("custom…", CUSTOM),
)
_CHOICE_VALUES = {value for _, value in EXPIRY_CHOICES}
EXAMPLE_AHEAD = timedelta(days=90)


class _KeepNever:
    """`keep=KEEP_NEVER`: the token being edited never expires."""

    def __repr__(self) -> str:
        return "KEEP_NEVER"


KEEP_NEVER = _KeepNever()


def example_placeholder(now: datetime) -> str:
    """What the custom field suggests: lifetimes, and a date 90 days from `now`."""
    return f"12h, 2w, 45d or a date: {(now + EXAMPLE_AHEAD).date().isoformat()}"


class ExpiryField(Vertical):
    """An expiry selector with its custom field and feedback line.

    `initial` is an expiry spec: one of the choices, or any other spec (shown as
    custom, filled in). `clock` is the store's. With `keep` (the token's current
    expiry, `KEEP_NEVER` for none) the first choice keeps it, and is selected.
    """

    DEFAULT_CSS = """
    ExpiryField {
        height: auto;
    }
    """

    def __init__(
        self,
        *,
        initial: str,
        clock: Callable[[], datetime],
        label: str = "Expires",
        cursor_blink: bool = True,
        keep: datetime | _KeepNever | None = None,
    ) -> None:
        super().__init__()
        self._keep = keep
        self._initial = KEEP if keep is not None else initial
        self._clock = clock
        self._label = label
        self._cursor_blink = cursor_blink

    def _choices(self) -> list[tuple[str, str]]:
        choices = list(EXPIRY_CHOICES)
        if self._keep is not None:
            choices.insert(0, (f"keep the current expiry ({self._keep_text()})", KEEP))
        return choices

    def _keep_text(self) -> str:
        keep = self._keep
        if not isinstance(keep, datetime):
            return "never"
        now = self._clock()
        if keep <= now:
            return f"expired {relative_time(keep, now)}"
        return relative_time(keep, now)

    def compose(self) -> ComposeResult:
        known = _CHOICE_VALUES | {KEEP}
        custom_value = "" if self._initial in known else self._initial
        with Horizontal(classes="field"):
            yield Static(self._label, classes="field-label")
            yield DialogSelect(
                self._choices(),
                value=CUSTOM if custom_value else self._initial,
                allow_blank=False,
                id="expiry",
                compact=True,
            )
        with Horizontal(classes="field", id="custom-field"):
            yield Static("", classes="field-label")
            field = TextField(
                custom_value,
                placeholder=example_placeholder(self._clock()),
                id="custom-expiry",
                compact=True,
            )
            field.cursor_blink = self._cursor_blink
            yield field
        yield Static(id="expiry-feedback", classes="feedback")

    def on_mount(self) -> None:
        self.query_one("#custom-field").display = self.is_custom
        self.check()

    @property
    def is_custom(self) -> bool:
        return self.query_one("#expiry", Select).value == CUSTOM

    @property
    def keeps(self) -> bool:
        """The current expiry is kept (the edit form's first choice)."""
        return self.query_one("#expiry", Select).value == KEEP

    @property
    def spec(self) -> str:
        """The expiry as core takes it: `90d`, `never`, `2026-01-31`, ..."""
        if self.is_custom:
            return self.query_one("#custom-expiry", Input).value
        return str(self.query_one("#expiry", Select).value)

    @property
    def state(self) -> tuple[str, str]:
        """The choice and the custom text: a form asks before dropping a change."""
        return str(self.query_one("#expiry", Select).value), self.query_one(
            "#custom-expiry", Input
        ).value

    @property
    def problem_widget(self) -> Input | Select[str]:
        """Where the focus goes when the expiry is what is wrong."""
        if self.is_custom:
            return self.query_one("#custom-expiry", Input)
        return self.query_one("#expiry", Select)

    def _feedback(self, problem: str | None, fine: Content) -> None:
        widget = self.query_one("#expiry-feedback", Static)
        widget.set_class(problem is not None, "-problem")
        widget.update(Content.assemble(("✗ ", "bold"), problem) if problem is not None else fine)

    def check(self) -> str | None:
        """Check the expiry, show the result under it; the problem, or None."""
        field = self.query_one("#custom-expiry", Input)
        custom = self.is_custom
        if custom and not field.value.strip():
            field.remove_class("-invalid")
            self._feedback(None, Content("Type a lifetime (12h, 30d, 2w, 1y) or a future date."))
            return "type an expiry"
        now = self._clock()
        if self.keeps:
            field.remove_class("-invalid")
            self._feedback(None, self._keep_feedback(now))
            return None
        try:
            expires_at = parse_expiry(self.spec, now)
        except InvalidExpiry as exc:
            field.set_class(custom, "-invalid")
            self._feedback(exc.message, Content())
            return exc.message
        field.remove_class("-invalid")
        if expires_at is None:
            fine = Content("Never expires: it works until you delete it.")
        else:
            fine = Content.assemble(
                "Expires ",
                (format_timestamp(expires_at), "bold"),
                f" ({relative_time(expires_at, now)}).",
            )
        self._feedback(None, fine)
        return None

    def _keep_feedback(self, now: datetime) -> Content:
        keep = self._keep
        if not isinstance(keep, datetime):
            return Content("Keeps its expiry: never.")
        return Content.assemble(
            "Keeps its expiry: ", (format_timestamp(keep), "bold"), f" ({self._keep_text()})."
        )

    @on(Select.Changed, "#expiry")
    def _choice_changed(self, event: Select.Changed) -> None:
        custom = event.value == CUSTOM
        self.query_one("#custom-field").display = custom
        self.check()
        if custom:
            self.query_one("#custom-expiry", Input).focus()

    @on(Input.Changed, "#custom-expiry")
    def _custom_changed(self) -> None:
        self.check()
