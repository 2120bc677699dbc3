"""Delete and rotate: confirmations that name the token, focus on Cancel, real effect."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Input, OptionList, Select

from core.authz.authorizer import CachedAuthorizer
from core.store import StoreReader
from tests.tui.fixtures import CONTROL_NAME, NOW, FakeClipboard, Sandbox, many_records
from tests.tui.helpers import (
    main_screen,
    names,
    notes,
    screen_text,
    selected_name,
    settle,
    shown_secret,
    table,
)
from tui.screens.confirm import ConfirmScreen
from tui.screens.details import DetailsScreen
from tui.screens.main.token_actions import PRUNE_LISTED, prune_question
from tui.screens.rotate import RotateScreen
from tui.screens.secret import SecretScreen
from tui.table_model.columns import COLUMN_KEYS
from tui.widgets.expiry_field import EXPIRY_CHOICES


def allowed(sandbox: Sandbox, secret: str) -> bool:
    authorizer = CachedAuthorizer(StoreReader(sandbox.path), clock=lambda: NOW)
    return authorizer.decide(f"Bearer {secret}", "GET", "/project").allowed


@pytest.mark.parametrize("key", ["d", "delete"])
async def test_delete_confirms_naming_the_token_with_focus_on_cancel(
    populated: Sandbox, key: str
) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        assert selected_name(pilot) == "laptop"
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        laptop_id = populated.store().get("laptop").id
        assert f"Delete the token 'laptop' ({laptop_id})?" in screen_text(pilot)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")  # a reflexive enter cancels
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
    assert populated.path.read_bytes() == before


async def test_delete(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "d")
        await pilot.pause()
        await pilot.click("#confirm")
        await settle(pilot)
        assert "laptop" not in names(pilot)
        assert len(names(pilot)) == 4
        assert table(pilot).cursor_row == 2, "the cursor stays on the same row"
        assert any("Deleted the token 'laptop'" in message for _, message, _ in notes(pilot))
    assert "laptop" not in [r.name for r in populated.store().tokens()]


async def test_delete_a_token_someone_else_deleted_first(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "d")
        await pilot.pause()
        populated.store().delete(["laptop"])  # the CLI, meanwhile
        await pilot.click("#confirm")
        await settle(pilot)
        [(title, message, severity)] = notes(pilot)
        assert title == "Could not delete" and "no token" in message and severity == "error"
        assert "laptop" not in names(pilot)


async def test_rotate_ends_in_the_secret_modal_and_revokes_the_old_secret(sandbox: Sandbox) -> None:
    old = sandbox.store().create(name="ci", permissions="read", expires="30d")
    old_secret = old.secret.reveal()
    assert allowed(sandbox, old_secret)
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, RotateScreen)
        assert f"Rotate the token 'ci' ({old.record.id})?" in screen_text(pilot)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("right", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
        assert "Token rotated: ci" in screen_text(pilot)
        new_secret = shown_secret(pilot)
    assert new_secret != old_secret
    assert not allowed(sandbox, old_secret)
    assert allowed(sandbox, new_secret)
    record = sandbox.store().get("ci")
    assert record.id == old.record.id and record.permissions == old.record.permissions


async def test_delete_and_rotate_from_the_details_screen(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        await pilot.click("#rotate")
        await pilot.pause()
        assert isinstance(app.screen, RotateScreen)
        assert "Rotate the token 'ci-deploy'" in screen_text(pilot)
        await pilot.press("escape")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert "Delete the token 'ci-deploy'" in screen_text(pilot)


async def test_nothing_selected_means_delete_and_rotate_do_nothing(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d", "r", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen | RotateScreen | DetailsScreen)


# --- rotate with a new expiry ---------------------------------------------------------------


async def test_rotate_offers_the_create_forms_expiry_choices_starting_at_the_same_lifetime(
    sandbox: Sandbox,
) -> None:
    old = sandbox.store(now=NOW - timedelta(days=10)).create(name="ci", expires="30d")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RotateScreen)
        expiry = screen.query_one("#expiry", Select)
        assert expiry.value == "30d", "the token's own lifetime, counted from now"
        assert "2025-07-02T09:30:00Z" in screen_text(pilot)
        assert app.focused is not None and app.focused.id == "cancel"
        expiry.focus()
        await pilot.press("enter")  # open the list of choices
        await pilot.pause()
        offered = screen.query_one(OptionList)
        labels = [str(offered.get_option_at_index(i).prompt) for i in range(offered.option_count)]
        assert labels == [label for label, _ in EXPIRY_CHOICES]
        await pilot.press("escape")  # closes the list, not the question
        await pilot.pause()
        assert app.screen is screen
        expiry.value = "7d"
        await pilot.pause()
        assert "2025-06-09T09:30:00Z (in 7 days)" in screen_text(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    record = sandbox.store().get("ci")
    assert record.id == old.record.id
    assert record.expires_at == NOW + timedelta(days=7)


async def test_rotate_with_a_custom_expiry_checked_as_you_type(sandbox: Sandbox) -> None:
    sandbox.store().create(name="ci", expires="never")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RotateScreen)
        assert screen.query_one("#expiry", Select).value == "never"
        screen.query_one("#expiry", Select).value = "custom"
        await pilot.pause()
        await pilot.press(*"0d")
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is screen, "a bad expiry is refused in place"
        assert "✗ expiry '0d'" in screen_text(pilot)
        custom = screen.query_one("#custom-expiry", Input)
        custom.value = "2025-07-01"
        await pilot.pause()
        await pilot.press("enter")  # in the custom field: rotate
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    assert sandbox.store().get("ci").expires_at == datetime(2025, 7, 1, tzinfo=UTC)


async def test_rotate_cancelled_changes_nothing(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")  # focus on Cancel
        await settle(pilot)
        assert not isinstance(app.screen, RotateScreen | SecretScreen)
        await pilot.press("r", "escape")
        await settle(pilot)
    assert populated.path.read_bytes() == before


# --- prune -----------------------------------------------------------------------------------


async def test_prune_names_the_expired_tokens_and_starts_on_cancel(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        staging = populated.store().get("old-staging")
        text = screen_text(pilot)
        assert "Delete the expired token?" in text
        assert f"old-staging ({staging.id}), expired 2 days ago" in text
        assert "grafana-agent" not in text.split("Prune expired tokens")[1], "expiring is kept"
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")  # a reflexive enter cancels
        await settle(pilot)
    assert populated.path.read_bytes() == before


async def test_prune_deletes_only_the_expired_tokens_it_named(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause()
        # Meanwhile another token expires (written by hand): it was not named, so it stays.
        store = populated.store()
        late = dataclasses.replace(store.get("grafana-agent"), expires_at=NOW - timedelta(hours=1))
        populated.write_records([r if r.id != late.id else late for r in store.tokens()])
        await pilot.click("#confirm")
        await settle(pilot)
        assert "old-staging" not in names(pilot)
        assert any("Deleted 1 expired token: 'old-staging'" in m for _, m, _ in notes(pilot))
    assert {r.name for r in populated.store().tokens()} == {
        CONTROL_NAME,
        "ci-deploy",
        "grafana-agent",
        "laptop",
    }


async def test_prune_with_nothing_expired_says_so(sandbox: Sandbox) -> None:
    sandbox.store().create(name="ci")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        [(title, message, _)] = notes(pilot)
        assert title == "Nothing to prune" and "No token has expired" in message


def test_the_prune_question_names_a_few_and_counts_the_rest() -> None:
    records = [dataclasses.replace(r, expires_at=NOW - timedelta(days=1)) for r in many_records(9)]
    text = prune_question(records, NOW).plain
    assert text.startswith("Delete the 9 expired tokens?")
    assert text.count("expired 1 day ago") == PRUNE_LISTED
    assert "  and 3 more" in text
    assert "Clients using them are refused already" in text


# --- copy the id -----------------------------------------------------------------------------


async def test_y_copies_the_selected_tokens_id_and_never_a_secret(populated: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = populated.app(clipboard=clipboard)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "y")  # laptop
        await settle(pilot)
        laptop = populated.store().get("laptop")
        assert clipboard.copies == [laptop.id]
        assert not app.clipboard_clear_pending, "an id is not a secret: nothing to clear"
        [(title, message, _)] = notes(pilot)
        assert title == "Id copied" and f"id {laptop.id} of 'laptop'" in message


async def test_y_falls_back_to_osc52_like_the_secret_does(populated: Sandbox) -> None:
    app = populated.app(clipboard=FakeClipboard(broken=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.clipboard == populated.store().get("ci-deploy").id
        [(_, message, _)] = notes(pilot)
        assert "terminal's clipboard (OSC 52)" in message


async def test_y_with_no_token_says_why(sandbox: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = sandbox.app(clipboard=clipboard)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert clipboard.copies == []
        [(title, _, _)] = notes(pilot)
        assert title == "No token to copy"


# --- the legacy marker -----------------------------------------------------------------------


async def test_migrated_pr8217_secrets_are_marked_legacy_in_the_table(sandbox: Sandbox) -> None:
    sandbox.legacy()
    sandbox.store().migrate()
    sandbox.store().create(name="fresh")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rows = {
            table(pilot).get_row_at(i)[0].plain: table(pilot).get_row_at(i)
            for i in range(table(pilot).row_count)
        }
        status = COLUMN_KEYS.index("status")
        assert rows["ci"][status].plain == "active (legacy)"
        assert rows["fresh"][status].plain == "active"
        assert "active (legacy)" in screen_text(pilot)
        # rotating gives it an ocat_ secret: the mark goes
        table(pilot).select_key(sandbox.store().get("ci").id)
        await pilot.press("r")
        await pilot.pause()
        await pilot.click("#confirm")
        await settle(pilot)
        await pilot.press("escape")  # the secret modal asks first ...
        await pilot.pause()
        await pilot.click("#confirm")  # ... close anyway
        await settle(pilot)
        main = main_screen(pilot)
        main.reload()
        await settle(pilot)
        row = table(pilot).get_row_at(table(pilot).get_row_index(sandbox.store().get("ci").id))
        assert row[status].plain == "active"
