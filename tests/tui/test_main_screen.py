"""The main screen: what the table shows, filter, sort, details, help, quit, palette."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rich.style import Style
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.tui.fixtures import CONTROL_NAME, NOW, Sandbox
from tests.tui.helpers import (
    main_screen,
    names,
    notes,
    screen_text,
    selected_name,
    settle,
    table,
    text_of,
)
from tui.commands import MainCommands
from tui.screens.details import DetailsScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.table_model.columns import COLUMN_KEYS, COLUMNS, WIDE_ONLY

ESCAPED = "nightly\\x1b[31m[bold]build"


async def test_empty_store_says_how_to_create_a_token(sandbox: Sandbox) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "press n to create a token" in screen_text(pilot)
        assert not table(pilot).display
        assert "~/.config/opencode/auth-tokens.json" in screen_text(pilot)
    assert not sandbox.path.exists(), "looking at an empty store must not create the file"


async def test_table_has_explicit_column_keys_and_all_tokens(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        shown = table(pilot)
        # no token has a note or a directory: those columns would be empty
        assert shown.columns == [key for key in COLUMN_KEYS if key not in WIDE_ONLY]
        assert shown.cursor_type == "row"
        assert names(pilot) == ["ci-deploy", "grafana-agent", "laptop", ESCAPED, "old-staging"]
        rows = {shown.get_row_at(i)[0].plain: shown.get_row_at(i) for i in range(5)}
        cells = {name: [c.plain for c in row] for name, row in rows.items()}
        assert cells["ci-deploy"][2:] == [
            "rw-",
            "2025-06-01",
            "in 89 days",
            "active",
            "3 hours ago",
        ]
        assert cells["grafana-agent"][4:6] == ["in 5 days", "expiring"]
        assert cells["old-staging"][4:6] == ["2 days ago", "expired"], "expired once"
        assert cells["laptop"][4] == "never"
        text = screen_text(pilot)
        assert "5 tokens · 1 expiring · 1 expired" in text


async def test_expiring_and_expired_rows_use_the_theme_colours(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        variables = app.get_css_variables()
        shown = table(pilot)
        by_name = {shown.get_row_at(i)[0].plain: shown.get_row_at(i) for i in range(5)}
        assert all(c.style == Style(color=variables["warning"]) for c in by_name["grafana-agent"])
        assert all(c.style == Style(color=variables["error"]) for c in by_name["old-staging"])
        assert all(c.style == Style() for c in by_name["laptop"])


async def test_names_with_controls_and_markup_display_literally(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert ESCAPED in text  # escape shown as \x1b, [bold] shown as text
        assert "\x1b" not in text
        # the record itself still holds the real name
        screen = main_screen(pilot)
        assert screen.snapshot is not None
        record = screen.snapshot.find(CONTROL_NAME)
        assert record is not None
        table(pilot).select_key(record.id)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        assert text_of(app.screen.query_one("#detail-name", Static)) == ESCAPED


async def test_at_80_columns_the_name_and_status_columns_stay_visible(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = screen_text(pilot).splitlines()
        header = lines[1]
        for label in ("name", "id", "perms", "expires", "status", "last used"):
            assert label in header
        assert max(len(line.rstrip()) for line in lines) <= 80
        (old,) = [line for line in lines if "old-staging" in line]
        assert "2 days ago   expired" in old
        assert old.count("expired") == 1, "the status says expired; expires says when"


async def test_filter_by_name_or_id_and_escape_clears(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "a", "g")
        await pilot.pause()
        assert names(pilot) == ["grafana-agent", "old-staging"]
        assert "2 of 5 tokens match “ag”" in screen_text(pilot)
        # ids match too
        snapshot = main_screen(pilot).snapshot
        laptop = snapshot.find("laptop") if snapshot else None
        assert laptop is not None
        laptop_id = laptop.id
        filter_input = app.screen.query_one("#filter", Input)
        filter_input.value = laptop_id[:5].upper()
        await pilot.pause()
        assert names(pilot) == ["laptop"]
        filter_input.value = "zzz-nothing"
        await pilot.pause()
        assert "press escape to clear the filter" in screen_text(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert len(names(pilot)) == 5
        assert not app.screen.query_one("#filter-bar").display
        assert table(pilot).has_focus


async def test_filter_keeps_the_cursor_on_the_same_token(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "down")
        assert selected_name(pilot) == "old-staging"
        await pilot.press("slash", "s", "t")
        await pilot.pause()
        assert names(pilot) == ["old-staging"]
        assert selected_name(pilot) == "old-staging"
        await pilot.press("escape")
        await pilot.pause()
        assert selected_name(pilot) == "old-staging"


def header(pilot: Pilot[Any]) -> str:
    return screen_text(pilot).splitlines()[1]


async def test_j_k_g_G_home_and_end_move_through_the_tokens(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert selected_name(pilot) == "ci-deploy"
        await pilot.press("j", "j")
        assert selected_name(pilot) == "laptop"
        await pilot.press("k")
        assert selected_name(pilot) == "grafana-agent"
        await pilot.press("G")
        assert selected_name(pilot) == "old-staging"
        await pilot.press("g")
        assert selected_name(pilot) == "ci-deploy"
        await pilot.press("end")
        assert selected_name(pilot) == "old-staging"
        await pilot.press("home")
        assert selected_name(pilot) == "ci-deploy"


async def test_s_reverses_then_moves_to_the_next_order_and_the_header_shows_it(
    populated: Sandbox,
) -> None:
    app = populated.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        assert selected_name(pilot) == "laptop"
        assert "name ▲" in header(pilot)
        await pilot.press("s")  # again: name reversed
        assert names(pilot) == ["old-staging", ESCAPED, "laptop", "grafana-agent", "ci-deploy"]
        assert "name ▼" in header(pilot) and "sort: name Z→A" in screen_text(pilot)
        await pilot.press("s")  # expires: soonest first, never last
        assert names(pilot) == ["old-staging", "grafana-agent", "ci-deploy", ESCAPED, "laptop"]
        assert "expires ▲" in header(pilot) and "name ▲" not in header(pilot)
        assert "sort: expires soonest first" in screen_text(pilot)
        assert selected_name(pilot) == "laptop", "the cursor stays on the same token"
        await pilot.press("s")  # expires reversed: never first
        assert names(pilot) == ["laptop", ESCAPED, "ci-deploy", "grafana-agent", "old-staging"]
        assert "expires ▼" in header(pilot)
        await pilot.press("s")  # created: newest first
        assert names(pilot) == ["ci-deploy", ESCAPED, "old-staging", "laptop", "grafana-agent"]
        assert "created ▼" in header(pilot)
        await pilot.press("s")  # created: oldest first
        assert names(pilot) == ["grafana-agent", "laptop", "old-staging", ESCAPED, "ci-deploy"]
        await pilot.press("s")  # last used: most recent first, never last
        assert names(pilot)[:3] == ["ci-deploy", "laptop", "old-staging"]
        assert "last used ▼" in header(pilot)
        await pilot.press("s", "s")  # last used reversed, then back to name
        assert names(pilot)[0] == "ci-deploy" and "name ▲" in header(pilot)
        assert selected_name(pilot) == "laptop"


def header_x(pilot: Pilot[Any], key: str) -> int:
    """The x offset of a column's header cell in the table."""
    return table(pilot).column_x(key) + 2


async def test_clicking_any_header_sorts_by_it_and_again_reverses(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        for key in table(pilot).columns:
            await pilot.click("#tokens", offset=(header_x(pilot, key), 0))
            await pilot.pause()
            first = screen.sort
            assert first.column == key
            label = table(pilot).headers[key]
            assert label.endswith(("▲", "▼")), label
            order = names(pilot)
            await pilot.click("#tokens", offset=(header_x(pilot, key), 0))
            await pilot.pause()
            assert screen.sort == first.reversed()
            assert table(pilot).headers[key][-1] != label[-1]
            assert names(pilot) != order or len(set(order)) == 1
            others = [h for k, h in table(pilot).headers.items() if k != key]
            assert not any(h.endswith(("▲", "▼")) for h in others)
        await pilot.click("#tokens", offset=(header_x(pilot, "permissions"), 0))
        await pilot.pause()
        assert names(pilot)[0] == "laptop", "most permissions first (rwx)"
        await pilot.click("#tokens", offset=(header_x(pilot, "status"), 0))
        await pilot.pause()
        assert names(pilot)[:2] == ["old-staging", "grafana-agent"], "expired, then expiring"


async def test_the_sorted_column_stays_visible_at_72_columns(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "created" in header(pilot), "at 80 columns every column fits"
        assert "last used" in header(pilot)
    app = populated.app()
    async with app.run_test(size=(72, 24)) as pilot:
        await settle(pilot)
        assert "created" not in header(pilot), "at 72 columns created gives way first"
        await pilot.press("s", "s", "s", "s")  # name ▼, expires ▲, expires ▼, created ▼
        assert main_screen(pilot).sort.column == "created"
        assert "created ▼" in header(pilot)
        assert "last used" not in header(pilot), "another column gives way instead"
        assert "2025-06-01" in screen_text(pilot)
        text = screen_text(pilot)
        assert max(len(line.rstrip()) for line in text.splitlines()) <= 72


async def test_at_60_by_20_the_status_column_is_visible(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        for label in ("name", "perms", "expires", "status"):
            assert label in header(pilot)
        text = screen_text(pilot)
        assert "2 days ago   expired" in text and "expired 2 days" not in text
        assert "in 5 days    expiring" in text
        assert table(pilot).max_scroll_x == 0, "nothing hidden off to the right"


async def test_the_palette_sorts_by_every_column(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        commands = {c.title: c for c in MainCommands(screen).commands()}
        for spec in COLUMNS:
            await commands[f"view: Sort by {spec.label}"].run()
            await pilot.pause()
            assert screen.sort.column == spec.key
        last = screen.sort
        await commands["view: Reverse the sort"].run()
        await pilot.pause()
        assert screen.sort == last.reversed() and screen.sort.column == COLUMNS[-1].key


async def test_details_show_metadata_and_never_the_secret(sandbox: Sandbox) -> None:
    issued = sandbox.store().create(name="ci", permissions="read,execute", expires="30d")
    app = sandbox.app()
    # tall enough for every row at once (at 80 by 24 they scroll: test_edit_details.py)
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        text = screen_text(pilot)
        for expected in (
            "ci",
            issued.record.id,
            "read, execute",
            "active",
            "2025-06-02T09:30:00Z",
            "2025-07-02T09:30:00Z",
            "in 30 days",
            issued.secret.hint,
            "legacy",
        ):
            assert expected in text, expected
        assert issued.secret.reveal() not in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailsScreen)


async def test_clicking_the_selected_row_opens_details(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.click("#tokens", offset=(3, 1))  # first data row, already selected
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)


async def test_help_lists_the_keys(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(pilot)
        for key in ("n ", "d / delete", "r ", "p ", "y ", "/ ", "s ", "click a header", "j k"):
            assert key in text
        assert "ctrl+p" in text and "q / ctrl+q" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_quit_keys(populated: Sandbox, key: str) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
    assert app.return_code == 0


async def test_every_main_action_is_in_the_command_palette(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        provider = MainCommands(main_screen(pilot))
        titles = [command.title for command in provider.commands()]
        for title in (
            "token: New",
            "token: Delete",
            "token: Rotate",
            "token: Details",
            "token: Copy id",
            "token: Prune expired",
            "view: Filter",
            "view: Next sort order",
            "view: Reverse the sort",
            "help: Keys",
            "app: Quit",
        ):
            assert title in titles
        # and they run: open the palette, search, pick
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"token: new")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        from tui.screens.create import CreateTokenScreen

        assert isinstance(app.screen, CreateTokenScreen)


async def test_relative_times_move_on_with_the_clock(populated: Sandbox) -> None:
    now = [NOW]
    store = populated.store()
    store.clock = lambda: now[0]
    app = populated.app(store=store, poll_interval=0.02)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "in 5 days" in screen_text(pilot)
        now[0] = NOW + timedelta(days=6)
        await pilot.pause(0.1)
        await settle(pilot)
        (grafana,) = [line for line in screen_text(pilot).splitlines() if "grafana" in line]
        assert "1 day ago" in grafana and "expired" in grafana and "expiring" not in grafana


async def test_the_filter_summary_counts_the_matches(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "5 tokens · 1 expiring · 1 expired" in screen_text(pilot)
        await pilot.press("slash", "l")  # ci-deploy, laptop, nightly…, old-staging
        await pilot.pause()
        status = text_of(app.screen.query_one("#status", Static))
        assert status == "4 of 5 tokens match “l” · 1 expired", "grafana-agent (expiring) is out"
        app.screen.query_one("#filter", Input).value = "ci-"
        await pilot.pause()
        assert text_of(app.screen.query_one("#status", Static)) == "1 of 5 tokens match “ci-”"


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_status_line_fits_and_the_sort_gives_way(
    populated: Sandbox, size: tuple[int, int]
) -> None:
    app = populated.app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("slash", "a", "g", "enter")
        await settle(pilot)
        line = screen_text(pilot).splitlines()[-2]
        assert "2 of 5 tokens match “ag” · 1 expiring · 1 expired" in line
        assert ("sort: name A→Z" in line) is (size[0] == 80), "at 60 the header's ▲ says it"


@pytest.mark.parametrize("key", ["d", "r", "enter", "delete"])
async def test_keys_that_need_a_token_say_why_nothing_happened(sandbox: Sandbox, key: str) -> None:
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        [(title, message, _)] = notes(pilot)
        assert title.startswith("No token to ")
        assert message == "The store has no tokens yet: press n to create one."


async def test_with_every_token_filtered_out_the_message_names_the_filter(
    populated: Sandbox,
) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zz")
        await pilot.pause()
        app.screen.set_focus(None)  # tab away from the filter: nothing else to focus
        await pilot.press("d")
        await settle(pilot)
        [(title, message, _)] = notes(pilot)
        assert title == "No token to delete"
        assert message == "No token matches the filter “zz”: press escape to clear it."
        assert len(names(pilot)) == 0 and populated.store().tokens()


async def test_help_scrolls_on_a_short_terminal_and_close_stays(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert "▸ Close ◂" in screen_text(pilot)
        assert "q / ctrl+q" not in screen_text(pilot), "below the fold"
        await pilot.press(*["j"] * 12)
        await settle(pilot)
        assert "q / ctrl+q" in screen_text(pilot) and "▸ Close ◂" in screen_text(pilot)
