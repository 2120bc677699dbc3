"""The secret modal: copy (system clipboard or OSC 52), clearing, closing, forgetting."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Static
from textual.worker import Worker

from core.model.token_format import Secret
from tests.tui.fixtures import FakeClipboard, Sandbox
from tests.tui.helpers import notes, screen_text, settle, shown_secret, text_of
from tui.app import AuthApp
from tui.clipboard import CopyRoute
from tui.screens.confirm import ConfirmScreen
from tui.screens.secret import SecretScreen


async def create_token(pilot: Pilot[Any], name: str = "ci") -> SecretScreen:
    await settle(pilot)
    await pilot.press("n")
    await pilot.pause()
    await pilot.press(*name, "enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SecretScreen)
    return screen


async def test_the_secret_is_shown_with_the_once_warning(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        secret = shown_secret(pilot)
        assert secret.startswith("ocat_") and len(secret) == 33
        text = screen_text(pilot)
        assert secret in text
        assert "This is the only time this token is shown." in text
    record = sandbox.store().get("ci")
    assert record.hint == f"ocat_…{secret[-4:]}"


async def test_copy_to_the_system_clipboard(sandbox: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = sandbox.app(clipboard=clipboard, clipboard_clear_after=45)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await create_token(pilot)
        secret = shown_secret(pilot)
        await pilot.click("#copy")
        await settle(pilot)
        assert clipboard.copies == [secret]
        assert screen.copied is CopyRoute.SYSTEM
        assert app.clipboard == "", "OSC 52 is only the fallback"
        outcome = text_of(screen.query_one("#copy-outcome", Static))
        assert outcome.startswith("✓ Copied to the clipboard. It will be cleared in 45 s.")
        assert notes(pilot) == [], "no toast: it would cover the Copy and Done buttons"
        await pilot.press("escape")  # copied: closes without asking
        await settle(pilot)
        assert not isinstance(app.screen, SecretScreen | ConfirmScreen)


async def test_copy_falls_back_to_osc52_without_a_system_clipboard(sandbox: Sandbox) -> None:
    app = sandbox.app(clipboard=FakeClipboard(broken=True))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await create_token(pilot)
        secret = shown_secret(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard == secret  # what Textual sent with OSC 52
        assert screen.copied is CopyRoute.OSC52
        outcome = screen.query_one("#copy-outcome", Static)
        message = text_of(outcome)
        assert message.startswith("✓ Sent to the terminal's clipboard (OSC 52)")
        assert "no system clipboard here" in message and "Pyperclip" not in message
        assert outcome.has_class("-warning")
        assert notes(pilot) == []


async def test_closing_without_copying_asks_first(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Close without copying?" in screen_text(pilot)
        assert app.focused is not None and app.focused.id == "cancel"  # "Go back"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SecretScreen), "Go back keeps the secret on screen"
        await pilot.click("#done")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm")  # "Close anyway"
        await settle(pilot)
        assert not isinstance(app.screen, SecretScreen | ConfirmScreen)


async def time_is_up(pilot: Pilot[Any]) -> None:
    """What the clear timer does when it fires, without waiting for it (the timer
    itself: `test_the_clipboard_is_cleared_by_itself_when_the_time_is_up`)."""
    app = pilot.app
    assert isinstance(app, AuthApp)
    assert app.clipboard_clear_pending
    app.clear_clipboard_now()
    await settle(pilot)


async def test_the_clipboard_is_cleared_by_itself_when_the_time_is_up(sandbox: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = sandbox.app(clipboard=clipboard, clipboard_clear_after=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert clipboard.text.startswith("ocat_"), "not cleared at once"
        await pilot.pause(1.5)
        await settle(pilot)
        assert clipboard.text == ""
        assert not app.clipboard_clear_pending


async def test_clipboard_cleared_later_if_it_still_holds_the_secret(sandbox: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = sandbox.app(clipboard=clipboard, clipboard_clear_after=45)
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert clipboard.text.startswith("ocat_")
        await time_is_up(pilot)
        assert clipboard.text == ""
        assert any("cleared from the clipboard" in message for _, message, _ in notes(pilot))


async def test_clipboard_left_alone_if_the_user_copied_something_else(sandbox: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = sandbox.app(clipboard=clipboard, clipboard_clear_after=45)
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        clipboard.text = "something the user copied since"
        await time_is_up(pilot)
        assert clipboard.text == "something the user copied since"
        assert not app.clipboard_clear_pending


async def test_osc52_copy_cleared_later_too(sandbox: Sandbox) -> None:
    app = sandbox.app(clipboard=FakeClipboard(broken=True), clipboard_clear_after=45)
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard.startswith("ocat_")
        await time_is_up(pilot)
        assert app.clipboard == ""


async def test_quitting_clears_a_pending_copy_at_once(sandbox: Sandbox) -> None:
    clipboard = FakeClipboard()
    app = sandbox.app(clipboard=clipboard, clipboard_clear_after=45)
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert clipboard.text.startswith("ocat_")
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert clipboard.text == ""
    assert app.return_code == 0


async def test_no_reference_to_the_secret_survives_the_modal(sandbox: Sandbox) -> None:
    app = sandbox.app(clipboard=FakeClipboard(broken=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        text = shown_secret(pilot)
        (secret,) = [o for o in gc.get_objects() if isinstance(o, Secret) and o.reveal() == text]
        ref = weakref.ref(secret)
        del secret
        await pilot.press("c")  # exercise the copy path too
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not any(isinstance(s, SecretScreen) for s in app.screen_stack)
        # one more round trip through the app, so no message in flight holds it
        await pilot.press("s")
        await settle(pilot)
        gc.collect()
        assert ref() is None, gc.get_referrers(ref()) if ref() is not None else None
        # finished workers can linger (in an idle thread's context): none holds the text
        for worker in (o for o in gc.get_objects() if isinstance(o, Worker)):
            # (three steps: the worker, its attributes, and what they hold: its arguments)
            assert not any(text in repr(held) for held in reachable(worker, depth=3)), worker


def reachable(start: object, *, depth: int) -> list[object]:
    """The objects `start` refers to, and those they refer to, `depth` steps deep."""
    seen = {id(start)}
    found: list[object] = []
    layer = [start]
    for _ in range(depth):
        layer = [o for o in gc.get_referents(*layer) if id(o) not in seen]
        seen.update(id(o) for o in layer)
        found += layer
    return found


async def test_no_screenshot_command_while_a_secret_is_shown(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Screenshot" in [c.title for c in app.get_system_commands(app.screen)]
        screen = await create_token(pilot)
        assert "Screenshot" not in [c.title for c in app.get_system_commands(screen)]


async def test_ctrl_q_before_copying_asks_the_same_question(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running, "ctrl+q must not lose the secret at once"
        assert isinstance(app.screen, ConfirmScreen)
        assert "Quit without copying?" in screen_text(pilot)
        body = text_of(app.screen.query_one(".dialog-body", Static))
        assert "You have not copied this token, and it will never be shown again." in body
        assert app.focused is not None and app.focused.id == "cancel"  # "Go back"
        await pilot.press("ctrl+q")  # pressed again: the question stays, nothing quits
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # Go back
        await pilot.pause()
        assert isinstance(app.screen, SecretScreen), "Go back keeps the secret on screen"
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.click("#confirm")  # "Quit anyway"
        await settle(pilot)
    assert app.return_code == 0


async def test_the_palettes_quit_asks_too(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"quit")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.is_running
        assert isinstance(app.screen, ConfirmScreen)
        assert "Quit without copying?" in screen_text(pilot)


async def test_after_copying_ctrl_q_quits_at_once(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("broken", [False, True])
@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_copy_outcome_hides_no_button(
    sandbox: Sandbox, broken: bool, size: tuple[int, int]
) -> None:
    app = sandbox.app(clipboard=FakeClipboard(broken=broken), clipboard_clear_after=45)
    async with app.run_test(size=size) as pilot:
        screen = await create_token(pilot)
        await pilot.press("c")
        await settle(pilot)
        outcome = screen.query_one("#copy-outcome", Static)
        assert outcome.display and not screen.query_one("#once-warning").display
        visible = screen.region
        for button in screen.query(Button):
            assert visible.contains_region(button.region), button.id
            assert not outcome.region.overlaps(button.region)
        assert "Done" in screen_text(pilot) and "✓" in screen_text(pilot)
