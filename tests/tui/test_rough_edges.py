"""The newcomer's rough edges (issue 19): each one as a user meets it, at 80 by 24
unless the edge is about a wider terminal."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, Static

from core.authz.presets import PRESETS, preset
from core.model.permissions import Permission
from tests.tui.fixtures import Sandbox
from tests.tui.helpers import main_screen, names, notes, screen_text, selected_name, settle, text_of
from tests.tui.scenarios import prepare_scoped
from tui.keys import MainKeys
from tui.screens.confirm import ConfirmScreen
from tui.screens.create import FIX_FIRST, CreateTokenScreen
from tui.screens.edit import EditTokenScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.rotate import RotateScreen
from tui.screens.secret import SecretScreen
from tui.table_model.sorting import Sort, cycle
from tui.widgets.permissions_field import PRESET_CHOICES

# --- the header and the keys of a read-only store ----------------------------------------


async def test_a_read_only_store_is_marked_in_the_header_before_a_change_fails(
    populated: Sandbox,
) -> None:
    populated.path.chmod(0o400)
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = screen_text(pilot).splitlines()[0]
        assert "opencode-auth-tui — read-only · ~/.config/opencode/auth-" in header, (
            "the mark first"
        )
        (said,) = [n for n in notes(pilot) if n[0] == "The store is read-only"]
        assert "~/.config/opencode/auth-tokens.json has no write permission" in said[1]
        for key in (MainKeys.NEW, MainKeys.PAIR, MainKeys.EDIT, MainKeys.DELETE):
            await pilot.press(key.key.split(",")[0])
            await settle(pilot)
            assert isinstance(app.screen, MainScreen), f"{key.key}: no form opened to fail"
        refusals = [n for n in notes(pilot) if "no change can be saved" in n[1]]
        assert len(refusals) == 4
    assert populated.path.read_bytes() == before
    populated.path.chmod(0o600)
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "read-only" not in screen_text(pilot).splitlines()[0]


# --- the filter, the sort -----------------------------------------------------------------


async def test_the_filter_puts_the_cursor_on_the_first_match(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await pilot.pause()
        assert selected_name(pilot) == "old-staging"
        await pilot.press("slash", "a")
        await settle(pilot)
        shown = names(pilot)
        assert len(shown) >= 2 and shown[-1] == "old-staging"
        assert selected_name(pilot) == shown[0], "the first match, not the last"
        await pilot.press("enter", "d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"'{shown[0]}'" in screen_text(pilot), "d offers the first match"


async def test_names_sort_naturally_and_s_steps_through_eight_orders(sandbox: Sandbox) -> None:
    store = sandbox.store()
    for name in ("cli-10", "cli-2", "cli-1", "CLI-3", "bot"):
        store.create(name=name, permissions="read", expires="30d")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert names(pilot) == ["bot", "cli-1", "cli-2", "CLI-3", "cli-10"]
        orders = cycle()
        assert len(orders) == 8
        screen = main_screen(pilot)
        for expected in [*orders[1:], orders[0]]:
            await pilot.press(MainKeys.SORT.key)
            await pilot.pause()
            assert screen.sort == expected
        assert screen.sort == Sort()
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert "s               sort: steps through 8 orders, then back to name A→Z" in (
            screen_text(pilot)
        )


# --- showing more -------------------------------------------------------------------------


async def test_directories_and_note_columns_at_120_not_at_80(sandbox: Sandbox) -> None:
    prepare_scoped(sandbox)
    app = sandbox.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        lines = screen_text(pilot).splitlines()
        assert "directories" in lines[1] and "note" in lines[1]
        (ci,) = [line for line in lines if "ci-deploy" in line]
        assert "~/src/app," in ci and "deploys ma" in ci
        (laptop,) = [line for line in lines if "laptop" in line]
        assert laptop.rstrip().endswith("all"), "no directories: every one"
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = screen_text(pilot).splitlines()[1]
        assert "directories" not in header and "note" not in header


async def test_the_secret_modal_says_the_directory_limit(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"scoped")
        app.screen.query_one("#directory", Input).focus()
        await pilot.press(*"/srv/www", "enter", *"~/src/app", "enter")
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
        summary = text_of(app.screen.query_one("#token-summary", Static))
        assert summary.endswith("· only in /srv/www, ~/src/app")
        assert "only in /srv/www," in screen_text(pilot)


# --- at 80 by 24 --------------------------------------------------------------------------


def border_columns(pilot: Pilot[Any]) -> list[str]:
    """Each row's first and last character between the dialog's top and bottom."""
    dialog = pilot.app.screen.query_one(".dialog").region
    lines = screen_text(pilot).splitlines()
    return [lines[y][0] + lines[y][79] for y in range(dialog.y, dialog.bottom)]


async def test_a_wide_modal_at_80_columns_leaves_nothing_of_the_screen_at_its_sides(
    populated: Sandbox,
) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        for keys in (("n",), ("e",), ("r",), ("enter",), ("question_mark",), ("P",)):
            await settle(pilot)
            await pilot.press(*keys)
            await settle(pilot)
            edges = border_columns(pilot)
            assert edges[0] == "╭╮" and edges[-1] == "╰╯", keys
            assert all(pair == "││" for pair in edges[1:-1]), (keys, edges)
            app.screen.dismiss(None)


async def test_the_edit_toast_is_gone_when_the_rotate_modal_opens(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#note", Input).value = "edited"
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any(n[1].startswith("Saved") for n in notes(pilot))
        # (a headless screenshot leaves toasts out: the app's list of them is asked)
        assert len(app._notifications) == 1, "the toast is up"
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RotateScreen)
        assert len(app._notifications) == 0, "cleared: it would cover Rotate and Cancel"


async def test_the_expiry_list_stays_inside_the_modal(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EditTokenScreen)
        select = screen.query_one("#expiry", Select)
        select.scroll_visible(animate=False)
        await settle(pilot)
        select.expanded = True
        await settle(pilot)
        overlay = select.query_one("SelectOverlay")
        dialog = screen.query_one(".dialog").region
        assert overlay.region.height >= 3
        assert overlay.region.bottom <= dialog.bottom - 1, "above the dialog's bottom border"


async def test_fix_the_fields_goes_once_they_are_fixed(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        await pilot.press(*"laptop")  # taken
        await pilot.click("#create")
        await settle(pilot)
        assert FIX_FIRST in screen_text(pilot)
        screen.query_one("#name", Input).value = "laptop-2"
        await pilot.pause()
        assert FIX_FIRST not in screen_text(pilot)
        assert not screen.query_one("#form-error").display


async def test_esc_on_a_filled_in_form_asks_before_discarding(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("escape")  # nothing filled in: closes at once
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        await pilot.press(*"half-done", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Discard the new token?" in screen_text(pilot)
        await pilot.press("escape")  # Keep editing
        await settle(pilot)
        assert app.screen is form and form.query_one("#name", Input).value == "half-done"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert populated.path.read_bytes() == before


# --- permission presets -------------------------------------------------------------------


async def test_presets_are_offered_each_saying_what_it_is_for(sandbox: Sandbox) -> None:
    watch = preset("watch")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CreateTokenScreen)
        assert [value for _, value in PRESET_CHOICES][:-1] == [p.name for p in PRESETS]
        screen.query_one("#preset", Select).value = "watch"
        await settle(pilot)
        assert screen.query_one("#perm-write", Checkbox).value is False
        said = text_of(screen.query_one("#permissions-feedback", Static))
        assert said == f"{watch.title}: {watch.purpose}."
        screen.query_one("#perm-read", Checkbox).value = False
        screen.query_one("#perm-execute", Checkbox).value = False
        screen.query_one("#perm-write", Checkbox).value = True
        await settle(pilot)
        assert screen.query_one("#preset", Select).value == "custom"
        said = text_of(screen.query_one("#permissions-feedback", Static))
        assert "POST" not in said and "PUT" not in said, "no rule of thumb"
        assert said.startswith("custom: can ") and "log" in said, "what write alone does"
        screen.query_one("#preset", Select).value = "watch"
        await settle(pilot)
        screen.query_one("#name", Input).value = "watcher"
        await pilot.click("#create")
        await settle(pilot)
    (record,) = sandbox.store().tokens()
    assert record.permissions == watch.permissions
    assert Permission.WRITE not in record.permissions


async def test_the_edit_form_shows_the_tokens_preset(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "e")  # laptop: rwx
        await settle(pilot)
        assert isinstance(app.screen, EditTokenScreen)
        assert app.screen.query_one("#preset", Select).value == preset("full").name


async def test_a_modal_fits_the_terminal_again_after_a_resize(populated: Sandbox) -> None:
    """Full width below 84 columns, its own width above, as the terminal is resized."""
    app = populated.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.query_one(".dialog").region.width == 76
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert app.screen.query_one(".dialog").region.width == 80
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert app.screen.query_one(".dialog").region.width == 76, "not stuck at full width"
