"""The table's fast path and the pure rules behind what it shows."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widgets import DataTable

from core.model.permissions import Permission
from core.model.records import TokenRecord, TokenStatus
from tests.tui.fixtures import NOW, many_records
from tui.table_model.columns import (
    CELL_PADDING,
    COLUMN_KEYS,
    COLUMNS,
    NAME_FLOOR,
    WIDE_MAX,
    WIDE_MIN,
    WIDE_ONLY,
    column_label,
    fit_columns,
    natural_widths,
)
from tui.table_model.filtering import filter_view
from tui.table_model.rows import PLAIN_COLOURS, Cell, RowColours, TokenRow
from tui.table_model.sorting import Sort, sort_rows
from tui.table_model.texts import expires_text
from tui.widgets.token_table import TokenTable


class TwoTables(App[None]):
    CSS = "TokenTable, DataTable { height: 20; scrollbar-size-vertical: 1; }"

    def compose(self) -> ComposeResult:
        yield TokenTable(id="fast")
        yield DataTable(
            id="stock", cursor_type="row", cell_padding=CELL_PADDING, show_row_labels=False
        )


COLOURS = RowColours(expiring=Style(color="yellow"), expired=Style(color="red"))


def painted(strip: Strip) -> list[tuple[str, Style | None]]:
    """Each cell of a painted line: its character and style (less mouse metadata)."""
    return [
        (char, None if segment.style is None else segment.style.clear_meta_and_links())
        for segment in strip
        for char in segment.text
    ]


async def test_it_paints_what_a_datatable_with_the_same_rows_paints() -> None:
    """The virtual table replaced a DataTable: same header, cells, colours, cursor,
    focus styles, scrolling - compared character by character, style by style."""
    rows = rows_of(many_records(40), COLOURS)
    rows[3] = TokenRow(record(id="wide0003", name="wide 名前 and a long name"), NOW, COLOURS)
    rows[5] = TokenRow(record(id="gone0005", expires_at=NOW - timedelta(days=2)), NOW, COLOURS)
    rows[6] = TokenRow(record(id="soon0006", expires_at=NOW + timedelta(days=3)), NOW, COLOURS)
    assert {row.status for row in rows} == set(TokenStatus)
    widths = fit_columns(natural_widths(rows), 100)
    widths["name"] = 14  # long names are cut with "…"
    app = TwoTables()
    # narrower than the columns (82 cells with their padding): both scroll sideways
    async with app.run_test(size=(76, 50)) as pilot:
        fast = app.query_one("#fast", TokenTable)
        stock: DataTable[Cell] = app.query_one("#stock", DataTable)
        fast.set_columns(widths)
        shown = [spec for spec in COLUMNS if spec.key in widths]
        assert [spec.key for spec in shown] == [k for k in COLUMN_KEYS if k not in WIDE_ONLY]
        for spec in shown:
            stock.add_column(Text(spec.label), key=spec.key, width=widths[spec.key])
        fast.set_rows(rows)
        for row in rows:
            stock.add_row(*row.cells[: len(shown)], key=row.id)
        await pilot.pause()
        assert fast.row_count == stock.row_count == 40
        assert fast.virtual_size == stock.virtual_size
        for index, row in enumerate(rows):
            assert fast.get_row_at(index) == stock.get_row_at(index)
            assert fast.get_row_index(row.id) == stock.get_row_index(row.id) == index

        async def compare(label: str) -> None:
            for table in (fast, stock):
                table.focus()
                await pilot.pause()
                focused = [painted(table.render_line(y)) for y in range(20)]
                (stock if table is fast else fast).focus()
                await pilot.pause()
                blurred = [painted(table.render_line(y)) for y in range(20)]
                if table is fast:
                    mine = (focused, blurred)
                else:
                    theirs = (focused, blurred)
            for state, a, b in zip(("focused", "blurred"), mine, theirs, strict=True):
                for y, (line_a, line_b) in enumerate(zip(a, b, strict=True)):
                    assert line_a == line_b, (label, state, y)

        await compare("top")
        fast.select_key(rows[30].id)
        stock.move_cursor(row=30)
        await pilot.pause()
        assert fast.cursor_row == 30 and fast.selected_key() == rows[30].id
        assert fast.scroll_y == stock.scroll_y > 0
        await compare("cursor on row 30, scrolled")
        fast.scroll_x = stock.scroll_x = 7
        await pilot.pause()
        assert fast.scroll_x == stock.scroll_x > 0
        await compare("scrolled sideways")
        # replacing the rows keeps the cursor's row number, clamped
        fast.set_rows(rows[:3])
        await pilot.pause()
        assert fast.row_count == 3 and fast.selected_key() == rows[2].id


async def test_set_rows_holds_the_rows_and_builds_cells_only_for_painted_rows() -> None:
    rows = rows_of(many_records(500), COLOURS)
    app = TwoTables()
    async with app.run_test(size=(120, 50)) as pilot:
        fast = app.query_one("#fast", TokenTable)
        fast.set_columns(fit_columns(natural_widths(rows), 120))
        fast.set_rows(rows)
        await pilot.pause()
        assert fast.rows is rows, "held by reference, not copied"
        built = [row for row in rows if row.cells_built]
        assert 0 < len(built) <= 20, len(built)
        assert built == rows[: len(built)]


def rows_of(records: list[TokenRecord], colours: RowColours) -> list[TokenRow]:
    return [TokenRow(r, NOW, colours) for r in records]


def record(**changes: Any) -> TokenRecord:
    base = many_records(1)[0]
    return dataclasses.replace(base, **changes)


def test_the_perms_column_shows_rwx_letters_in_fixed_places() -> None:
    read, write, execute = Permission.READ, Permission.WRITE, Permission.EXECUTE
    for held, letters in [
        ((read, write, execute), "rwx"),
        ((read,), "r--"),
        ((read, execute), "r-x"),
    ]:
        row = TokenRow(record(permissions=held), NOW, PLAIN_COLOURS)
        assert row.cells[COLUMN_KEYS.index("permissions")].plain == letters


@pytest.mark.parametrize(
    ("expires", "text"),
    [
        (None, "never"),
        (NOW + timedelta(days=89), "in 89 days"),
        (NOW - timedelta(days=2), "expired 2 days ago"),
        (NOW + timedelta(hours=5), "in 5 hours"),
    ],
)
def test_expires_text(expires: object, text: str) -> None:
    assert expires_text(record(expires_at=expires), NOW) == text


def matching(rows: list[TokenRow], query: str) -> list[TokenRow] | None:
    found = filter_view(rows, query)
    return None if found is None else found.rows


def test_filter_matches_name_or_id_case_insensitively() -> None:
    rows = rows_of(many_records(30), PLAIN_COLOURS)
    assert [r.record.name for r in matching(rows, "SERVICE-0001") or []] == [
        f"service-{n:05d}" for n in range(10, 20)
    ]
    target = rows[7]
    assert matching(rows, target.id.upper()) == [target]
    assert matching(rows, "  ") is None, "an empty filter shows every row"


def test_filter_matches_the_escaped_form_of_a_name_too() -> None:
    row = TokenRow(record(name="evil\x1bname"), NOW, PLAIN_COLOURS)
    assert matching([row], "\\x1b") == [row]
    assert matching([row], "evil\x1b") == [row]


def test_sorts_are_total_and_put_never_last() -> None:
    rows = rows_of(many_records(50), PLAIN_COLOURS)
    by_expiry = sort_rows(rows, Sort.by("expires"))
    finite = [r.record.expires_at for r in by_expiry if r.record.expires_at is not None]
    assert finite == sorted(finite)
    assert all(r.record.expires_at is None for r in by_expiry[len(finite) :])
    by_created = sort_rows(rows, Sort.by("created"))
    assert [r.record.created_at for r in by_created] == sorted(
        (r.record.created_at for r in rows), reverse=True
    )


@pytest.mark.parametrize("column", COLUMN_KEYS)
def test_every_column_sorts_both_ways_with_ties_in_name_order(column: str) -> None:
    records = many_records(60)
    for index in range(0, 60, 3):  # some with a note and directories, most without
        records[index] = dataclasses.replace(
            records[index], note=f"note {index % 7}", directories=(f"/srv/p{index % 5}",)
        )
    rows = rows_of(records, PLAIN_COLOURS)
    sort = Sort.by(column)
    forward = sort_rows(rows, sort)
    backward = sort_rows(rows, sort.reversed())
    assert sorted(r.id for r in forward) == sorted(r.id for r in rows)
    assert forward != backward


@pytest.mark.parametrize("descending", [False, True])
def test_equal_keys_stay_in_name_order_in_both_directions(descending: bool) -> None:
    rows = rows_of(many_records(60), PLAIN_COLOURS)
    ordered = sort_rows(rows, Sort("permissions", descending))
    assert ordered[0].record.permissions != ordered[-1].record.permissions
    for a, b in itertools.pairwise(ordered):
        if a.record.permissions == b.record.permissions:
            assert (a.record.name, a.id) < (b.record.name, b.id)


def test_s_steps_through_each_order_and_its_reverse() -> None:
    seen = [Sort()]
    while len(seen) < 9:
        seen.append(seen[-1].next())
    assert [(s.column, s.arrow) for s in seen] == [
        ("name", "▲"),
        ("name", "▼"),
        ("expires", "▲"),
        ("expires", "▼"),
        ("created", "▼"),
        ("created", "▲"),
        ("last_used", "▼"),
        ("last_used", "▲"),
        ("name", "▲"),
    ]
    assert Sort.by("id").next() == Sort("id", descending=True)
    assert Sort("id", descending=True).next() == Sort()
    assert Sort().clicked("name") == Sort("name", descending=True)
    assert Sort().clicked("created") == Sort("created", descending=True)  # newest first
    assert column_label("created", Sort.by("created")) == "created ▼"
    assert column_label("name", Sort.by("created")) == "name"


# natural widths with no directories and no note (0: no token has one)
NATURAL = (30, 8, 5, 10, 18, 8, 11, 0, 0)


def test_fit_columns_shrinks_the_name_then_drops_created_last_used_and_id() -> None:
    natural = dict(zip(COLUMN_KEYS, NATURAL, strict=True))
    natural.pop("directories"), natural.pop("note")
    padding = 2 * len(natural)
    natural |= {"directories": 0, "note": 0}
    everything = sum(natural.values()) + padding
    narrow_keys = [key for key in COLUMN_KEYS if key not in WIDE_ONLY]
    assert fit_columns(natural, everything) == {key: natural[key] for key in narrow_keys}
    assert fit_columns(natural, 300) == fit_columns(natural, everything), "nothing to show"
    narrower = fit_columns(natural, everything - 10)
    assert narrower["name"] == 20 and list(narrower) == narrow_keys
    at_80 = fit_columns(natural, 79)
    assert "created" not in at_80 and "last_used" in at_80 and at_80["name"] >= 12
    at_60 = fit_columns(natural, 59)
    assert list(at_60) == ["name", "permissions", "expires", "status"]
    assert at_60["name"] >= 12
    tiny = fit_columns(natural, 30)
    assert list(tiny) == ["name", "permissions", "expires", "status"]
    assert tiny["name"] == NAME_FLOOR  # the table scrolls sideways rather than lose the name


def test_fit_columns_keeps_the_sorted_column() -> None:
    natural = dict(zip(COLUMN_KEYS, NATURAL, strict=True))
    at_80 = fit_columns(natural, 79, keep="created")
    assert "created" in at_80 and "last_used" not in at_80
    at_60 = fit_columns(natural, 59, keep="last_used")
    assert list(at_60) == ["name", "permissions", "expires", "status", "last_used"]


def test_directories_and_note_are_shown_where_there_is_room_for_them() -> None:
    natural = dict(zip(COLUMN_KEYS, (14, 8, 5, 10, 12, 8, 11, 25, 60), strict=True))
    base = sum(w for k, w in natural.items() if k not in WIDE_ONLY) + 2 * 7
    at_120 = fit_columns(natural, 120)
    assert list(at_120)[-2:] == ["directories", "note"], "in the room left at 120"
    assert at_120["directories"] == at_120["note"] == (120 - base) // 2 - 2, "shared"
    assert sum(at_120.values()) + 2 * len(at_120) <= 120
    assert at_120["note"] >= WIDE_MIN
    wide = fit_columns(natural, 250)
    assert wide["directories"] == 25 and wide["note"] == WIDE_MAX, "a long note is cut"
    just_one = fit_columns(natural, base + 2 * 2 + 15)
    assert "directories" in just_one and "note" not in just_one, "the note gives way first"
    assert "directories" not in fit_columns(natural, 80) and "note" not in fit_columns(natural, 80)
    kept = fit_columns(natural, 80, keep="note")
    assert kept["note"] == WIDE_MAX, "the sorted column is shown in any case, cut"
    empty = fit_columns(natural | {"note": 0}, 80, keep="note")
    assert empty["note"] == len("note ▲"), "room for its header and arrow"


def test_names_are_escaped_and_never_markup() -> None:
    row = TokenRow(record(name="a[bold]b\x1b[31mc"), NOW, PLAIN_COLOURS)
    text = row.cells[0].__rich__()
    assert isinstance(text, Text)
    assert text.plain == "a[bold]b\\x1b[31mc"
    assert text.spans == []
