"""The create form: defaults, choices, validation as you type, cancel, store errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Select, Static

from core.model.errors import StoreWriteFailed
from core.model.expiry import parse_expiry
from core.model.permissions import Permission
from core.store import Issued
from tests.tui.fixtures import NOW, Sandbox
from tests.tui.helpers import screen_text, selected_name, settle, text_of
from tui.screens.create import CreateTokenScreen
from tui.screens.secret import SecretScreen


async def open_form(pilot: Pilot[Any]) -> CreateTokenScreen:
    await settle(pilot)
    await pilot.press("n")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CreateTokenScreen)
    return screen


def feedback(screen: CreateTokenScreen, name: str) -> str:
    return text_of(screen.query_one(f"#{name}-feedback", Static))


async def test_create_with_the_defaults(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        assert form.query_one("#name", Input).has_focus
        assert all(box.value for box in form.query(Checkbox))
        assert form.query_one("#expiry", Select).value == "90d"
        assert "Leave empty to name it token-1" in feedback(form, "name")
        assert "2025-08-31T09:30:00Z" in feedback(form, "expiry")
        await pilot.press("enter")  # enter in the name field submits
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    [record] = sandbox.store().tokens()
    assert record.name == "token-1"
    assert record.permissions == (Permission.READ, Permission.WRITE, Permission.EXECUTE)
    assert record.created_at == NOW
    assert record.expires_at == NOW + timedelta(days=90)


async def test_create_with_custom_permissions_and_preset_expiry(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"ci-deploy")
        await pilot.click("#perm-write")
        await pilot.click("#perm-execute")
        form.query_one("#expiry", Select).value = "30d"
        await pilot.pause()
        assert "in 30 days" in feedback(form, "expiry")
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
        await pilot.press("c")  # copy, then close: no question asked
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert selected_name(pilot) == "ci-deploy"  # the cursor goes to the new token
    record = sandbox.store().get("ci-deploy")
    assert record.permissions == (Permission.READ,)
    assert record.expires_at == NOW + timedelta(days=30)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("2w", NOW + timedelta(weeks=2)), ("2025-12-31", NOW.replace(2025, 12, 31, 0, 0))],
)
async def test_create_with_a_custom_expiry(sandbox: Sandbox, typed: str, expected: Any) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"backup")
        assert not form.query_one("#custom-field").display
        form.query_one("#expiry", Select).value = "custom"
        await pilot.pause()
        custom = form.query_one("#custom-expiry", Input)
        assert form.query_one("#custom-field").display
        assert custom.has_focus
        await pilot.press(*typed)
        await pilot.pause()
        assert "✗" not in feedback(form, "expiry")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    assert sandbox.store().get("backup").expires_at == expected


async def test_never_expiring_token(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#expiry", Select).value = "never"
        await pilot.pause()
        assert "Never expires" in feedback(form, "expiry")
        await pilot.click("#create")
        await settle(pilot)
    assert sandbox.store().get("token-1").expires_at is None


async def test_validation_errors_show_as_you_type_and_block_create(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        name = form.query_one("#name", Input)

        await pilot.press(*"LAPTOP")  # names are unique case-insensitively
        assert "a token named 'laptop' already exists" in feedback(form, "name")
        assert name.has_class("-invalid")

        name.value = "x" * 65
        await pilot.pause()
        assert "65 characters long; the maximum is 64" in feedback(form, "name")

        name.value = "bell\x07name"  # a control character (pasted)
        await pilot.pause()
        assert "control character U+0007" in feedback(form, "name")

        name.value = "   "
        await pilot.pause()
        assert "name is empty" in feedback(form, "name")

        laptop_id = populated.store().get("laptop").id
        name.value = laptop_id
        await pilot.pause()
        assert "is another token's id" in feedback(form, "name")

        name.value = "fine-name"
        await pilot.pause()
        assert "✗" not in feedback(form, "name")
        assert not name.has_class("-invalid")

        for box in form.query(Checkbox):
            box.value = False
        await pilot.pause()
        assert "choose at least one permission" in feedback(form, "permissions")

        form.query_one("#expiry", Select).value = "custom"
        await pilot.pause()
        for bad, message in [
            ("0d", "must be at least 1 day"),
            ("90", "has no unit"),
            ("2020-01-01", "is not in the future"),
            ("soon", "is not understood"),
            ("11y", "10-year maximum"),
        ]:
            form.query_one("#custom-expiry", Input).value = bad
            await pilot.pause()
            assert message in feedback(form, "expiry"), bad

        await pilot.click("#create")
        await settle(pilot)
        assert app.screen is form, "a form with errors must not be submitted"
        assert "Fix the fields marked ✗ first." in screen_text(pilot)
        assert form.query_one("#perm-read", Checkbox).has_focus  # first problem field

        form.query_one("#perm-read", Checkbox).value = True
        form.query_one("#custom-expiry", Input).value = "12h"
        await pilot.pause()
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    assert populated.path.read_bytes() != before
    assert populated.store().get("fine-name").permissions == (Permission.READ,)


@pytest.mark.parametrize("how", ["escape", "button"])
async def test_cancel_writes_nothing(populated: Sandbox, how: str) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        await pilot.press(*"abandoned")
        if how == "escape":
            await pilot.press("escape")
        else:
            await pilot.click("#cancel")
        await settle(pilot)
        assert not isinstance(app.screen, CreateTokenScreen)
    assert populated.path.read_bytes() == before


async def test_name_taken_by_another_process_meanwhile(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"shared")
        assert "✗" not in feedback(form, "name")
        sandbox.store().create(name="SHARED")  # the CLI, in another terminal
        await pilot.click("#create")
        await settle(pilot)
        assert app.screen is form, "the form stays open"
        assert "a token named 'SHARED' already exists" in feedback(form, "name")
        assert form.query_one("#name", Input).has_focus
        assert not form.query_one("#create", Button).disabled
    assert [r.name for r in sandbox.store().tokens()] == ["SHARED"]


async def test_a_failed_write_is_shown_not_crashed_on(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sandbox.store()

    def refuse(**_: object) -> None:
        raise StoreWriteFailed(
            sandbox.path, "could not write: No space left on device; the previous file is unchanged"
        )

    monkeypatch.setattr(store, "create", refuse)
    app = sandbox.app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"ci")
        await pilot.click("#create")
        await settle(pilot)
        assert app.screen is form
        assert "No space left on device" in screen_text(pilot)
        assert not form.query_one("#create", Button).disabled


@pytest.mark.parametrize("now", [NOW, datetime(2031, 11, 20, 8, 0, tzinfo=UTC)])
async def test_the_custom_expiry_example_is_a_date_in_the_future(
    sandbox: Sandbox, now: datetime
) -> None:
    app = sandbox.app(store=sandbox.store(now=now))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#expiry", Select).value = "custom"
        await pilot.pause()
        placeholder = form.query_one("#custom-expiry", Input).placeholder
        example = placeholder.rsplit(" ", 1)[-1]
        assert example == (now + timedelta(days=90)).date().isoformat()
        assert example in screen_text(pilot)
        expires_at = parse_expiry(example, now)
        assert expires_at is not None and expires_at > now
        await pilot.press(*example)
        await pilot.pause()
        assert "✗" not in feedback(form, "expiry"), "the example itself is accepted"


async def test_ticked_and_unticked_boxes_read_without_colour(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        assert "[x] read   [x] write   [x] execute" in screen_text(pilot)
        await pilot.click("#perm-write")
        await pilot.pause()
        assert "[x] read   [ ] write   [x] execute" in screen_text(pilot)


async def test_a_focused_button_is_marked_and_not_drawn_as_selected_text(
    populated: Sandbox,
) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        assert "▸ Cancel ◂" in screen_text(pilot) and "▸ Delete ◂" not in screen_text(pilot)
        focused = app.focused
        assert isinstance(focused, Button) and focused.id == "cancel"
        assert not focused.rich_style.reverse
        assert focused.rich_style.underline and focused.rich_style.bold
        await pilot.press("right")
        await pilot.pause()
        text = screen_text(pilot)
        assert "▸ Delete ◂" in text and "▸ Cancel ◂" not in text
        assert " Cancel " in text, "the other button keeps its place, unmarked"


async def test_escape_or_enter_while_the_token_is_being_created_loses_nothing(
    sandbox: Sandbox,
) -> None:
    store = sandbox.store()
    written = threading.Event()
    create = store.create

    def slow_create(**kwargs: Any) -> Issued:
        written.wait(10)  # the write takes as long as the test wants
        return create(**kwargs)

    store.create = slow_create  # type: ignore[method-assign]
    app = sandbox.app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"ci", "enter", "escape", "enter")  # all before the write is done
        await pilot.click("#cancel")
        assert app.screen is form, "still waiting for the store"
        assert str(form.query_one("#create", Button).label) == "Creating…"
        written.set()
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen), "the new secret is shown, not lost"
    assert [r.name for r in sandbox.store().tokens()] == ["ci"], "and only one token"
