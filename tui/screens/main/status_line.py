"""The words under the table, and instead of it: the counts, the sort, the empty table.

The status line is where a filter's result is counted, and the empty table's
message is the first hint a new user gets; both are built here from the view
and the filter text (the keys they name from their bindings), apart from the
screen, so their wording is in one place.
"""

from __future__ import annotations

from textual.content import Content

from core.model.text import escape_controls
from tui.keys import MainKeys, named
from tui.table_model.filtering import Filtered
from tui.table_model.sorting import Sort
from tui.table_model.view import TableView

READING_STATUS = Content("reading…")
READING_TABLE = Content("Reading the store…")


def status_summary(
    view: TableView | None, query_text: str, shown: int, filtered: Filtered | None
) -> Content:
    """`5 tokens · 1 expiring · 1 expired`, or while filtering `2 of 5 tokens match
    “ag” · ...` with the counts of the `shown` matches; `reading…` before the first read."""
    if view is None:
        return READING_STATUS
    total = len(view.rows)
    noun = "token" if total == 1 else "tokens"
    if query_text.strip():
        status = Content.from_markup(
            "$shown of $total $noun match “$query”",
            shown=f"{shown:,}",
            total=f"{total:,}",
            noun=noun,
            query=escape_controls(query_text.strip()),
        )
        expiring, expired = (filtered.expiring, filtered.expired) if filtered else (0, 0)
    else:
        status = Content(f"{total:,} {noun}")
        expiring, expired = view.expiring, view.expired
    parts = [status]
    if expiring:
        parts.append(Content.from_markup("[$warning]$n expiring[/]", n=f"{expiring:,}"))
    if expired:
        parts.append(Content.from_markup("[$error]$n expired[/]", n=f"{expired:,}"))
    return Content(" · ").join(parts)


def sort_words(sort: Sort, room: int) -> Content:
    """The sort in words, as far as `room` cells allow: `sort: name A→Z`, `name A→Z`
    or nothing (the header's ▲/▼ shows it too)."""
    description = sort.description
    return Content(
        next((text for text in (f"sort: {description}", description) if len(text) <= room), "")
    )


def empty_message(view: TableView | None, query_text: str) -> Content:
    """Instead of an empty table: why it is empty, and the key that changes that."""
    if not view or not view.rows:
        return Content.from_markup(
            "No tokens in this store yet.\n\n[b]press $key to create a token[/b]",
            key=named(MainKeys.NEW),
        )
    return Content.from_markup(
        "No token's name or id contains “$query”.\n\n[b]press $key to clear the filter[/b]",
        query=escape_controls(query_text),
        key=named(MainKeys.CLEAR_FILTER),
    )
