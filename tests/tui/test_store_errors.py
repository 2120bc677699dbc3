"""A store that cannot be used: explained, never written; a legacy file: migration offered."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.store import StoreReader
from tests.tui.fixtures import NOW, Sandbox
from tests.tui.helpers import names, notes, screen_text, selected_name, settle
from tui.app import EXIT_STORE_ERROR
from tui.screens.confirm import ConfirmScreen, NoticeScreen
from tui.screens.main import MainScreen
from tui.screens.store_error import LegacyStoreScreen, StoreErrorScreen


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_corrupt_store_opens_the_error_screen_and_writes_nothing(sandbox: Sandbox) -> None:
    data = sandbox.corrupt()
    files = listing(sandbox.path.parent)
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, StoreErrorScreen)
        text = screen_text(pilot)
        assert "Cannot open the token store" in text
        assert "~/.config/opencode/auth-tokens.json" in text
        assert "the JSON ends early, at line 5: the file is truncated." in text
        assert "restore it from a backup" in text
        assert "Traceback" not in text
        # keys that would change something elsewhere do nothing here
        await pilot.press("n", "d", "r")
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == EXIT_STORE_ERROR
    assert sandbox.path.read_bytes() == data
    assert listing(sandbox.path.parent) == files, "not even a lock file"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda s: s.path.mkdir(parents=True), "The file is a folder."),
        (lambda s: s.write_bytes(b'{"version": 7, "tokens": []}'), "store version 7"),
        (lambda s: s.write_bytes(b'{"version": 1, "tokens": [{"id": 1}]}'), "tokens[0]"),
        (lambda s: s.write_bytes(b"\xff\xfe"), "not UTF-8 text"),
    ],
)
async def test_other_store_problems(
    sandbox: Sandbox, make: Callable[[Sandbox], object], problem: str
) -> None:
    make(sandbox)
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, StoreErrorScreen)
        assert problem in screen_text(pilot)


async def test_retry_after_the_file_is_fixed(sandbox: Sandbox) -> None:
    sandbox.corrupt()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, StoreErrorScreen), "still broken"
        os.unlink(sandbox.path)
        sandbox.store().create(name="fixed")
        await pilot.click("#retry")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert names(pilot) == ["fixed"]


async def test_legacy_file_offers_migration(sandbox: Sandbox) -> None:
    original = sandbox.legacy()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LegacyStoreScreen)
        text = screen_text(pilot)
        assert "old PR #8217 format (3 tokens" in text
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")  # cancel: nothing happens
        await settle(pilot)
        assert isinstance(app.screen, LegacyStoreScreen)
        assert sandbox.path.read_bytes() == original

        await pilot.click("#migrate")
        await pilot.pause()
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, NoticeScreen)
        backup = sandbox.path.with_name("auth-tokens.json.pr8217-backup-20250602T093000Z")
        assert "~/.config/opencode/auth-tokens.json.pr8217-backup-20250602T093000Z" in (
            screen_text(pilot)
        )
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert sorted(names(pilot)) == ["ci", "desktop", "token-1"]
    assert backup.read_bytes() == original
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert "legacy-example-secret" not in sandbox.path.read_text()
    secret = json.loads(original)[1]["token"]
    decision = CachedAuthorizer(StoreReader(sandbox.path), clock=lambda: NOW).decide(
        f"Bearer {secret}", "GET", "/session"
    )
    assert decision.allowed, "migrated tokens keep working"


async def test_legacy_file_quit_writes_nothing(sandbox: Sandbox) -> None:
    original = sandbox.legacy()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == EXIT_STORE_ERROR
    assert sandbox.path.read_bytes() == original


async def test_error_screens_have_their_actions_in_the_palette(sandbox: Sandbox) -> None:
    from tui.commands import StoreErrorCommands

    sandbox.legacy()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [c.title for c in StoreErrorCommands(app.screen).commands()]
        assert titles == ["store: Migrate", "store: Retry", "app: Quit"]


async def test_a_fixed_store_brings_the_main_screen_back_by_itself(sandbox: Sandbox) -> None:
    sandbox.corrupt()
    app = sandbox.app()  # polling is driven by hand here: poll_store() is one tick
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StoreErrorScreen)
        poll = screen.poll_store
        poll()  # nothing changed: nothing read, nothing shown
        await settle(pilot)
        assert app.screen is screen and notes(pilot) == []
        sandbox.write_bytes(b'{"version": 1, "tokens": [')  # still broken, differently
        poll()
        await settle(pilot)
        assert app.screen is screen
        assert "the JSON ends early, at line 1" in screen_text(pilot), "the new problem shown"
        os.unlink(sandbox.path)
        sandbox.store().create(name="fixed")
        poll()
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert names(pilot) == ["fixed"]
        assert ("Store file fixed", "The store file can be read again.", "information") in notes(
            pilot
        )


async def test_recovering_keeps_the_sort_and_the_token_under_the_cursor(
    populated: Sandbox,
) -> None:
    good = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s", "s", "s", "s", "down", "down")  # created, newest first
        main = app.screen
        assert isinstance(main, MainScreen)
        sort, chosen = main.sort, selected_name(pilot)
        assert sort.column == "created" and chosen == "old-staging"
        populated.corrupt()
        main.poll_store()
        await settle(pilot)
        error = app.screen
        assert isinstance(error, StoreErrorScreen)
        populated.write_bytes(good)
        error.poll_store()
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.screen is not main
        assert app.screen.sort == sort
        assert "created ▼" in screen_text(pilot).splitlines()[1]
        assert selected_name(pilot) == chosen


async def test_a_legacy_file_migrated_elsewhere_brings_the_main_screen_back(
    sandbox: Sandbox,
) -> None:
    sandbox.legacy()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LegacyStoreScreen)
        sandbox.store().migrate()  # the CLI, in another terminal
        screen.poll_store()
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert sorted(names(pilot)) == ["ci", "desktop", "token-1"]
