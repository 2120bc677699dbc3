"""A large store: read in a thread, rows painted only when on screen, a filter that
narrows, a first view shown before every row is measured. Behaviour only: the
timings are benchmarks/tui_bench.py's job, not the tests'."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from typing import Any

import pytest

from core.store import FileSnapshot, TokenStore
from tests.tui.fixtures import NOW, Sandbox, many_records
from tests.tui.helpers import main_screen, names, notes, screen_text, selected_name, settle, table
from tui.table_model import view as table_view
from tui.table_model.columns import natural_widths
from tui.table_model.filtering import Filtered, filter_view
from tui.table_model.rows import PLAIN_COLOURS
from tui.table_model.sorting import Sort
from tui.table_model.view import build_view


async def test_only_the_rows_on_screen_get_cells(sandbox: Sandbox) -> None:
    sandbox.write_records(many_records(3000))
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        view = main_screen(pilot).view
        assert view is not None and len(view.rows) == 3000
        built = sum(1 for row in view.rows if row.cells_built)
        assert 0 < built <= 40, built
        await pilot.press("G")  # the last page
        await pilot.pause()
        assert selected_name(pilot) == "service-02999"
        assert "service-02999" in screen_text(pilot)
        built = sum(1 for row in view.rows if row.cells_built)
        assert built <= 80, built


async def test_page_down_and_up_move_a_page(sandbox: Sandbox) -> None:
    sandbox.write_records(many_records(200))
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = table(pilot)
        page = shown.scrollable_content_region.height - 1  # less the header
        await pilot.press("pagedown")
        await pilot.pause()
        assert shown.cursor_row == page
        assert selected_name(pilot) == f"service-{page:05d}"
        selected = main_screen(pilot).selected
        assert selected is not None and selected.id in screen_text(pilot), "scrolled with it"
        await pilot.press("pagedown", "pageup")
        await pilot.pause()
        assert shown.cursor_row == page


async def test_a_longer_filter_narrows_and_a_shorter_one_widens_again(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "a")
        await pilot.pause()
        with_a = names(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert names(pilot) == ["grafana-agent", "old-staging"]
        assert "2 of 5 tokens match “ag” · 1 expiring · 1 expired" in screen_text(pilot)
        await pilot.press("backspace")
        await pilot.pause()
        assert names(pilot) == with_a
        await pilot.press("backspace", *"LAP")
        await pilot.pause()
        assert names(pilot) == ["laptop"]
        await pilot.press("enter", "s")  # back to the table; a new order, filtered anew
        await pilot.pause()
        assert names(pilot) == ["laptop"]


def test_filtered_narrowing_matches_a_fresh_filter() -> None:
    rows = build_view(many_records(400), NOW, PLAIN_COLOURS, Sort()).rows
    wide = filter_view(rows, "service-00")
    assert wide is not None
    narrow = filter_view(rows, "Service-001 ", wide)
    fresh = Filtered.of(rows, "service-001", rows)
    assert narrow is not None and narrow.needle == "service-001"
    assert narrow.rows == fresh.rows and len(narrow.rows) < len(wide.rows)
    assert (narrow.expiring, narrow.expired) == (fresh.expiring, fresh.expired)
    assert filter_view(rows, "service-001", narrow) is narrow, "the same text: nothing redone"
    everything = Filtered.of(rows, "s", rows, (1, 2))
    assert everything.rows == rows and (everything.expiring, everything.expired) == (1, 2)


def test_a_view_over_the_eager_limit_is_completed_later(monkeypatch: pytest.MonkeyPatch) -> None:
    records = many_records(300)
    # far down the name order, the widest expiry text: "364 days ago"
    records[299] = dataclasses.replace(records[299], expires_at=NOW - timedelta(days=364))
    monkeypatch.setattr(table_view, "PREVIEW_ROWS", 10)
    first = build_view(records, NOW, PLAIN_COLOURS, Sort(), eager_limit=100)
    assert not first.complete
    assert first.natural["expires"] < len("364 days ago")
    done = first.completed()
    assert done.complete and done.rows is first.rows
    assert done.natural == natural_widths(first.rows)
    assert done.natural["expires"] == len("364 days ago")
    whole = build_view(records, NOW, PLAIN_COLOURS, Sort())
    assert whole.complete and whole.natural == done.natural


async def test_a_large_store_is_shown_first_then_measured(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = many_records(300)
    records[299] = dataclasses.replace(records[299], expires_at=NOW - timedelta(days=364))
    sandbox.write_records(records)
    monkeypatch.setattr(table_view, "EAGER_LIMIT", 100)
    monkeypatch.setattr(table_view, "PREVIEW_ROWS", 10)
    app = sandbox.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        view = main_screen(pilot).view
        assert view is not None and view.complete
        assert table(pilot).column_widths["expires"] == len("364 days ago")
        await pilot.press("G")
        await pilot.pause()
        assert "364 days ago" in screen_text(pilot), "not cut"


class SlowStore(TokenStore):
    """A store whose reads wait until the test lets them go."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.go = threading.Event()

    def load(self) -> FileSnapshot:
        self.go.wait(timeout=10)
        return super().load()


async def test_the_store_is_read_in_a_thread_and_the_screen_says_so(sandbox: Sandbox) -> None:
    sandbox.populate()
    base = sandbox.store()
    store = SlowStore(base.path, clock=base.clock, token_bytes=base.token_bytes)
    app = sandbox.app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(pilot)
        assert "Reading the store…" in text and "reading…" in text
        assert "~/.config/opencode/auth-tokens.json" in text, "the header is there at once"
        await pilot.press("n")
        await pilot.pause()
        assert notes(pilot)[-1][1].startswith("The store is still being read")
        store.go.set()
        await settle(pilot)
        assert names(pilot)[0] == "ci-deploy"
        assert "5 tokens" in screen_text(pilot)


async def test_quitting_while_the_store_is_read(sandbox: Sandbox) -> None:
    sandbox.populate()
    base = sandbox.store()
    store = SlowStore(base.path, clock=base.clock, token_bytes=base.token_bytes)
    app = sandbox.app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        store.go.set()
    assert app.return_code == 0


async def test_a_click_moves_the_cursor_and_a_second_opens_the_details(populated: Sandbox) -> None:
    from tui.screens.details import DetailsScreen

    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.click("#tokens", offset=(3, 3))  # the third data row
        await pilot.pause()
        assert selected_name(pilot) == "laptop"
        assert not isinstance(app.screen, DetailsScreen)
        await pilot.click("#tokens", offset=(3, 3))
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("escape")
        await pilot.click("#tokens", offset=(3, 12))  # below the last row: nothing
        await pilot.pause()
        assert selected_name(pilot) == "laptop"
        assert not isinstance(app.screen, DetailsScreen)


def test_a_new_minutes_view_keeps_the_relative_columns_as_wide_until_completed() -> None:
    records = many_records(300)
    records[299] = dataclasses.replace(records[299], expires_at=NOW - timedelta(days=364))
    done = build_view(records, NOW, PLAIN_COLOURS, Sort())
    later = NOW + timedelta(minutes=1)
    table_model_preview = build_view(records, later, PLAIN_COLOURS, Sort(), done, eager_limit=10)
    assert not table_model_preview.complete
    assert table_model_preview.natural["expires"] == done.natural["expires"]
    assert table_model_preview.natural["last_used"] >= done.natural["last_used"]
