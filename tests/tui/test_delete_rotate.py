"""Delete and rotate: confirmations that name the token, focus on Cancel, real effect."""

from __future__ import annotations

import pytest

from core.authorize import CachedAuthorizer
from tests.tui.fixtures import NOW, Sandbox
from tests.tui.helpers import names, notes, screen_text, selected_name, settle, shown_secret, table
from tui.screens.confirm import ConfirmScreen
from tui.screens.details import DetailsScreen
from tui.screens.secret import SecretScreen


def allowed(sandbox: Sandbox, secret: str) -> bool:
    authorizer = CachedAuthorizer(sandbox.path, clock=lambda: NOW)
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
        assert isinstance(app.screen, ConfirmScreen)
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
        assert isinstance(app.screen, ConfirmScreen)
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
        assert not isinstance(app.screen, ConfirmScreen | DetailsScreen)
