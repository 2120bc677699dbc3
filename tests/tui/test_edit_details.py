"""Issue 10's fields in the TUI: a note, directories, `e` edit, details that say what
a token can and cannot do, and a set of permissions that can pass no request."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, Static

from core.model.permissions import Permission, passes_nothing
from core.present import abilities
from tests.tui.fixtures import CONTROL_NAME, NOW, Sandbox
from tests.tui.helpers import main_screen, notes, screen_text, selected_name, settle, text_of
from tui.commands import MainCommands
from tui.screens.create import CreateTokenScreen
from tui.screens.details import DetailsScreen
from tui.screens.edit import EditTokenScreen
from tui.screens.secret import SecretScreen
from tui.widgets.directories_field import DirectoriesField
from tui.widgets.expiry_field import KEEP


def feedback(pilot: Pilot[Any], id: str) -> str:
    return text_of(pilot.app.screen.query_one(f"#{id}", Static))


async def open_create(pilot: Pilot[Any]) -> CreateTokenScreen:
    await settle(pilot)
    await pilot.press("n")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CreateTokenScreen)
    return screen


async def type_into(pilot: Pilot[Any], id: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{id}", Input).focus()
    await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()


# --- create: note and directories ----------------------------------------------------


async def test_create_with_a_note_and_directories(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_create(pilot)
        await pilot.press(*"deploy-bot")
        await type_into(pilot, "note", "deploys main from CI")
        await type_into(pilot, "directory", "~/src/app")
        await pilot.press("enter")  # adds the path; does not submit the form
        await pilot.pause()
        assert isinstance(app.screen, CreateTokenScreen)
        assert not sandbox.path.exists()
        await pilot.press(*"/srv//www/", "enter")
        await pilot.press(*"/opt/tools")  # typed, not added: it counts all the same
        await pilot.pause()
        assert "~/src/app" in screen_text(pilot) and "/srv/www" in screen_text(pilot)
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    record = sandbox.store().get("deploy-bot")
    assert record.note == "deploys main from CI"
    assert record.directories == (str(sandbox.home / "src" / "app"), "/srv/www", "/opt/tools")


async def test_no_directories_means_every_directory(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_create(pilot)
        assert "every directory the server serves" in feedback(pilot, "directories-feedback")
        await pilot.press(*"plain", "enter")
        await settle(pilot)
    record = sandbox.store().get("plain")
    assert record.directories == () and record.note is None


async def test_a_relative_directory_is_taken_from_the_current_folder_and_shown_absolute(
    sandbox: Sandbox,
) -> None:
    """As the CLI's `--directory`: resolved, shown as the absolute path, a warning
    (not a refusal) when it does not exist; core's refusals stay refusals."""
    work = sandbox.root / "work"
    (work / "src" / "app").mkdir(parents=True)
    app = sandbox.app(cwd=work)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_create(pilot)
        await type_into(pilot, "directory", "src/app")
        message = feedback(pilot, "directories-feedback")
        assert f"enter adds {work}/src/app" in message and "current folder" in message
        assert "✗" not in message and "⚠" not in message
        assert not screen.query_one("#directory", Input).has_class("-invalid")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one(DirectoriesField).directories == (f"{work}/src/app",)
        await type_into(pilot, "directory", "../later")
        message = feedback(pilot, "directories-feedback")
        assert f"⚠ {sandbox.root}/later" in message and "does not exist (yet)" in message
        await pilot.press("enter")
        await pilot.pause()
        listed = [text_of(path) for path in screen.query(".directory-path").results(Static)]
        assert listed == [f"{work}/src/app", f"{sandbox.root}/later  ⚠ does not exist (yet)"]
        for bad, words in (
            ("/a\x00b", "NUL"),
            ("/a\x1b[31mb", "control character U+001B"),
        ):
            screen.query_one("#directory", Input).value = bad
            await pilot.pause()
            assert words in feedback(pilot, "directories-feedback")
            assert screen.query_one("#directory", Input).has_class("-invalid")
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, CreateTokenScreen), "Create is refused"
        assert app.screen.focused is screen.query_one("#directory", Input)
        screen.query_one("#directory", Input).value = ""
        await pilot.click("#create")
        await settle(pilot)
    (record,) = sandbox.store().tokens()
    assert record.directories == (f"{work}/src/app", f"{sandbox.root}/later")


async def test_a_directory_is_removed_with_its_button(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_create(pilot)
        await type_into(pilot, "directory", "/srv/a")
        await pilot.press("enter", *"/srv/b", "enter")
        await pilot.pause()
        field = screen.query_one(DirectoriesField)
        assert list(field.directories) == ["/srv/a", "/srv/b"]
        await pilot.click("#remove-directory-0")
        await pilot.pause()
        assert list(field.directories) == ["/srv/b"]
        assert "/srv/a" not in screen_text(pilot)


async def test_a_paste_of_several_lines_adds_each_good_one_and_names_each_bad_one(
    sandbox: Sandbox,
) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_create(pilot)
        field = screen.query_one("#directory", Input)
        field.focus()
        await pilot.pause()
        pasted = "/srv/a\n~/b\n/bad\x00one\nrelative\n/bad\x07two\n/srv/c\n"
        app.post_message(events.Paste(pasted))  # as the driver does
        await pilot.pause()
        assert screen.query_one(DirectoriesField).directories == (
            "/srv/a",
            str(sandbox.home / "b"),
            str(sandbox.home / "src" / "relative"),
            "/srv/c",
        )
        assert field.value == "", "nothing is left in the field"
        message = feedback(pilot, "directories-feedback")
        assert message.startswith("✗ 2 pasted lines not added:")
        lines = message.splitlines()
        assert len(lines) == 3, "one line per refused line"
        assert "'/bad\\x00one'" in lines[1] and "NUL" in lines[1]
        assert "'/bad\\x07two'" in lines[2] and "U+0007" in lines[2]
        assert isinstance(app.screen, CreateTokenScreen), "a pasted line break submits nothing"
        await pilot.press(*"/srv/d")
        await pilot.pause()
        assert "not added" not in feedback(pilot, "directories-feedback"), "typing moves on"


async def test_a_bad_note_is_refused_as_typed(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_create(pilot)
        assert "Optional" in feedback(pilot, "note-feedback")
        screen.query_one("#note", Input).value = "x" * 201
        await pilot.pause()
        assert "maximum is 200" in feedback(pilot, "note-feedback")
        screen.query_one("#note", Input).value = "key ocat_" + "A" * 28
        await pilot.pause()
        assert "looks like a token secret" in feedback(pilot, "note-feedback")
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, CreateTokenScreen)
        assert app.screen.focused is screen.query_one("#note", Input)
    assert not sandbox.path.exists()


async def test_execute_alone_is_explained_and_may_still_be_created(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_create(pilot)
        await pilot.press(*"only-x")
        screen.query_one("#perm-read", Checkbox).value = False
        screen.query_one("#perm-write", Checkbox).value = False
        await pilot.pause()
        explanation = passes_nothing([Permission.EXECUTE])
        assert explanation is not None
        shown = feedback(pilot, "permissions-feedback")
        assert shown.startswith("⚠") and explanation[1:] in shown
        assert screen.query_one("#permissions-feedback").has_class("-warning")
        assert not screen.query_one("#permissions-feedback").has_class("-problem")
        screen.query_one("#perm-read", Checkbox).value = True
        await pilot.pause()
        assert "⚠" not in feedback(pilot, "permissions-feedback")
        screen.query_one("#perm-read", Checkbox).value = False
        await pilot.pause()
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(app.screen, SecretScreen)
    assert sandbox.store().get("only-x").permissions == (Permission.EXECUTE,)


# --- edit -------------------------------------------------------------------------------


def scoped(sandbox: Sandbox) -> None:
    sandbox.populate()
    sandbox.store().edit(
        "ci-deploy", note="deploys main", directories=[str(sandbox.home / "src" / "app")]
    )


async def open_edit(pilot: Pilot[Any], key: str = "e") -> EditTokenScreen:
    await settle(pilot)
    await pilot.press(key)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, EditTokenScreen)
    return screen


async def test_edit_is_filled_in_and_keeps_the_expiry_by_default(sandbox: Sandbox) -> None:
    scoped(sandbox)
    record = sandbox.store().get("ci-deploy")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_edit(pilot)
        assert screen.query_one("#name", Input).value == "ci-deploy"
        assert screen.query_one("#note", Input).value == "deploys main"
        assert screen.query_one("#perm-read", Checkbox).value
        assert screen.query_one("#perm-write", Checkbox).value
        assert not screen.query_one("#perm-execute", Checkbox).value
        assert screen.query_one(DirectoriesField).directories == record.directories
        assert "~/src/app" in screen_text(pilot)
        assert screen.query_one("#expiry", Select).value == KEEP
        assert "keep the current expiry (in 89 days)" in screen_text(pilot)
        assert "Keeps its expiry: 2025-08-30T09:30:00Z" in feedback(pilot, "expiry-feedback")
        assert "Save" in screen_text(pilot) and "Create" not in screen_text(pilot)
        assert "esc Cancel" in screen_text(pilot).splitlines()[-1]


async def test_edit_saves_what_changed_and_the_secret_stays(sandbox: Sandbox) -> None:
    scoped(sandbox)
    before = sandbox.store().get("ci-deploy")
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_edit(pilot)
        screen.query_one("#name", Input).value = "ci-release"
        screen.query_one("#note", Input).value = "releases from CI"
        screen.query_one("#perm-execute", Checkbox).value = True
        await pilot.click("#remove-directory-0")
        await pilot.pause()
        await pilot.click("#save")
        await settle(pilot)
        assert not isinstance(app.screen, SecretScreen), "no secret: it has not changed"
        assert not isinstance(app.screen, EditTokenScreen)
        assert selected_name(pilot) == "ci-release", "the cursor follows the token"
        (title, message, _) = notes(pilot)[-1]
        assert title == "Edited"
        assert "name, note, permissions, directories" in message
        assert "secret is unchanged" in message
    after = sandbox.store().get(before.id)
    assert (after.name, after.note) == ("ci-release", "releases from CI")
    assert after.permissions == tuple(Permission)
    assert after.directories == ()
    assert (after.digest, after.hint, after.created_at, after.expires_at) == (
        before.digest,
        before.hint,
        before.created_at,
        before.expires_at,
    )


async def test_edit_with_nothing_changed_writes_nothing(sandbox: Sandbox) -> None:
    scoped(sandbox)
    data = sandbox.path.read_bytes()
    mtime = sandbox.path.stat().st_mtime_ns
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_edit(pilot)
        await pilot.press("enter")  # in the name field: Save
        await settle(pilot)
        assert not isinstance(app.screen, EditTokenScreen)
        assert "Nothing changed" in notes(pilot)[-1][1]
    assert sandbox.path.read_bytes() == data and sandbox.path.stat().st_mtime_ns == mtime


async def test_edit_sets_a_new_expiry_from_now(sandbox: Sandbox) -> None:
    scoped(sandbox)
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_edit(pilot)
        screen.query_one("#expiry", Select).value = "7d"
        await pilot.pause()
        await pilot.click("#save")
        await settle(pilot)
        assert "expiry" in notes(pilot)[-1][1]
    from datetime import timedelta

    assert sandbox.store().get("ci-deploy").expires_at == NOW + timedelta(days=7)


async def test_edit_refuses_a_taken_name_inline(sandbox: Sandbox) -> None:
    scoped(sandbox)
    data = sandbox.path.read_bytes()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_edit(pilot)
        screen.query_one("#name", Input).value = "LAPTOP"
        await pilot.pause()
        assert "already exists" in feedback(pilot, "name-feedback")
        screen.query_one("#name", Input).value = ""
        await pilot.pause()
        assert "needs a name" in feedback(pilot, "name-feedback")
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, EditTokenScreen)
    assert sandbox.path.read_bytes() == data


async def test_a_hand_written_name_stays_when_something_else_is_edited(
    populated: Sandbox,
) -> None:
    target = populated.store().get(CONTROL_NAME)
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main_screen(pilot).table.select_key(target.id)
        screen = await open_edit(pilot)
        assert feedback(pilot, "name-feedback") == "Its secret stays the same."
        screen.query_one("#note", Input).value = "hand-made"
        await pilot.pause()
        await pilot.click("#save")
        await settle(pilot)
    after = populated.store().get(target.id)
    assert after.name == CONTROL_NAME and after.note == "hand-made"


async def test_e_with_no_token_says_why(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert not isinstance(app.screen, EditTokenScreen)
        assert notes(pilot)[-1][0] == "No token to edit"


async def test_edit_is_in_the_footer_and_the_palette(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "e Edit" in screen_text(pilot).splitlines()[-1]
        titles = [c.title for c in MainCommands(main_screen(pilot)).commands()]
        assert "token: Edit" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"token: edit")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EditTokenScreen)


async def test_help_lists_e(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(pilot)
        assert "edit the selected token" in text
        assert "q / ctrl+q" in text, "every key still fits on one page at 80 by 24"


# --- details --------------------------------------------------------------------------


async def test_details_show_the_note_directories_and_what_it_can_do(sandbox: Sandbox) -> None:
    scoped(sandbox)
    record = sandbox.store().get("ci-deploy")
    app = sandbox.app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        screen = app.screen
        assert text_of(screen.query_one("#detail-note", Static)) == "deploys main"
        assert text_of(screen.query_one("#detail-directories", Static)) == "~/src/app"
        words = text_of(screen.query_one("#detail-on-opencode", Static))
        expected = abilities(record.permissions, record.directories, sandbox.home)
        assert words.startswith("in ~/src/app:")
        assert "can " + "; ".join(expected.can) in words
        assert "cannot " + ", ".join(expected.cannot) in words
        assert "run commands or steer the agent" in words.split("cannot ", 1)[1]


async def test_details_of_an_unscoped_token_without_a_note(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # laptop: rwx, every directory
        await pilot.pause()
        screen = app.screen
        assert text_of(screen.query_one("#detail-note", Static)) == "none"
        directories = text_of(screen.query_one("#detail-directories", Static))
        assert directories == "every directory the server serves"
        words = text_of(screen.query_one("#detail-on-opencode", Static))
        assert words.startswith("in every directory the server serves:")
        assert "run commands" in words and "cannot" not in words


async def test_details_scroll_at_80_by_24_and_e_edits(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert "legacy" not in screen_text(pilot), "below the fold at 80 by 24"
        assert "Close" in screen_text(pilot), "the buttons stay"
        for _ in range(12):
            await pilot.press("j")
        await pilot.pause()
        assert "legacy" in screen_text(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditTokenScreen)
        assert app.screen.record.name == "ci-deploy"


async def test_details_of_an_execute_only_token_say_it_passes_nothing(sandbox: Sandbox) -> None:
    sandbox.store().create(name="x-only", permissions="execute")
    app = sandbox.app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        words = text_of(app.screen.query_one("#detail-on-opencode", Static))
        assert "can nothing" in words and "cannot pass any request" in words


async def test_keys_typed_faster_than_a_repaint_each_scroll_the_details(
    populated: Sandbox,
) -> None:
    """A burst of j (a held key, keys sent by tmux) scrolls once per key, not once."""
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # laptop: the longest details
        await pilot.pause()
        body = app.screen.query_one("#details-body")
        assert body.max_scroll_y >= 3
        for _ in range(3):
            app.post_message(events.Key("j", "j"))  # all before the next repaint
        await pilot.pause()
        assert body.scroll_y == 3


@pytest.mark.parametrize("key", ["e", "n", "r", "d", "p", "enter", "question_mark", "slash"])
async def test_a_key_right_after_q_does_not_crash_the_quit(populated: Sandbox, key: str) -> None:
    """`q` then `e` typed together (or `question_mark` sent by tmux as letters): the
    form opening while the app quits must not raise on its way out."""
    app = populated.app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        for pressed in ("q", key):  # both queued before either is handled
            app.post_message(events.Key(pressed, pressed if len(pressed) == 1 else None))
        await pilot.pause(0.3)
    assert app.return_code == 0
