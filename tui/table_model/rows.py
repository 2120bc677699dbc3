"""One record as the table shows it: a row, its nine cells, its colour.

A store can hold 100,000 tokens and only a screenful is painted, so a row
computes at once only what every row needs (status, colour, name, sort key) and
the rest - relative times, the filter's text, the cells - on first use.

Every cell is plain text rendered as a Rich `Text`: a name like `[bold]x` or one
holding an escape sequence (hand-written into the file) is shown literally, after
`escape_controls`, and is never read as markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.style import Style
from rich.text import Text

from core.model.records import TokenRecord, TokenStatus
from core.model.text import escape_controls
from core.present import format_date, shorten
from tui.table_model.texts import (
    display_name,
    expires_cell,
    last_used_text,
    perms_text,
    status_text,
    text_width,
)

_DIGITS = re.compile(r"(\d+)")
NameKey = tuple[str | int, ...]


def natural_key(folded: str) -> NameKey:
    """A name's sort key with its numbers as numbers: cli-2 before cli-10.

    The parts alternate text, number, text, ... so two keys always compare text
    with text and numbers with numbers.
    """
    parts: list[str | int] = list(_DIGITS.split(folded))
    if len(parts) == 1:
        return (folded,)
    parts[1::2] = [int(digits) for digits in parts[1::2]]
    return tuple(parts)


def directories_cell(directories: tuple[str, ...], home: Path | None) -> str:
    """`all`, or the directories (`~` for home), comma-separated."""
    if not directories:
        return "all"
    return ", ".join(escape_controls(shorten(d, home)) for d in directories)


def note_cell(note: str | None) -> str:
    """The note on one line (it may hold line breaks only if hand-written)."""
    return escape_controls(" ".join(note.split())) if note else ""


@dataclass(frozen=True, slots=True)
class RowColours:
    """Row styles for tokens that need attention (taken from the app theme)."""

    expiring: Style
    expired: Style


PLAIN_COLOURS = RowColours(Style(), Style())


class Cell:
    """One table cell: plain text and a style, turned into Rich `Text` only when painted.

    The text is never parsed as markup.
    """

    __slots__ = ("plain", "style")

    def __init__(self, plain: str, style: Style) -> None:
        self.plain = plain
        self.style = style

    def __rich__(self) -> Text:
        # no_wrap + ellipsis: a cell wider than its column ends in "…" instead of wrapping.
        return Text(self.plain, style=self.style, no_wrap=True, overflow="ellipsis", end="")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell):
            return NotImplemented
        return self.plain == other.plain and self.style == other.style

    def __hash__(self) -> int:
        return hash((self.plain, self.style))

    def __repr__(self) -> str:
        return f"Cell({self.plain!r})"


class TokenRow:
    """One record as the table shows it.

    What every row needs at once - its status (the counts, the colour), its name
    as shown and the sort key - is computed when the view is built. The rest is
    computed on first use: the two relative times, what the filter searches, and
    the nine `Cell`s (only for rows that are painted). `complete()` computes it
    all, off the UI thread, for views that need every row's texts (widths).
    """

    __slots__ = (
        "_cells",
        "_expires",
        "_haystack",
        "_last_used",
        "folded",
        "home",
        "id",
        "name",
        "name_key",
        "name_width",
        "now",
        "record",
        "status",
        "style",
    )

    def __init__(
        self,
        record: TokenRecord,
        now: datetime,
        colours: RowColours,
        home: Path | None = None,
    ) -> None:
        status = record.status(now)
        self.id = record.id
        self.record = record
        self.now = now
        self.status = status
        if status is TokenStatus.EXPIRED:
            self.style = colours.expired
        elif status is TokenStatus.EXPIRING:
            self.style = colours.expiring
        else:
            self.style = _NO_STYLE
        name = display_name(record)
        self.name = name
        self.name_width = text_width(name)
        self.folded = record.name.casefold()
        self.name_key = natural_key(self.folded)
        self.home = home
        self._expires: str | None = None
        self._last_used: str | None = None
        self._haystack: str | None = None
        self._cells: tuple[Cell, ...] | None = None

    @property
    def expires(self) -> str:
        text = self._expires
        if text is None:
            text = self._expires = expires_cell(self.record, self.now)
        return text

    @property
    def last_used(self) -> str:
        text = self._last_used
        if text is None:
            text = self._last_used = last_used_text(self.record, self.now)
        return text

    @property
    def haystack(self) -> str:
        """What the filter searches: the name as typed and as shown, and the id."""
        text = self._haystack
        if text is None:
            folded, shown = self.folded, self.name.casefold()
            text = f"{folded}\0{self.id}" if shown == folded else f"{folded}\0{shown}\0{self.id}"
            self._haystack = text
        return text

    @property
    def directories(self) -> str:
        return directories_cell(self.record.directories, self.home)

    @property
    def note(self) -> str:
        return note_cell(self.record.note)

    @property
    def cells(self) -> tuple[Cell, ...]:
        """The nine cells, in COLUMN_KEYS order (built on first use)."""
        cells = self._cells
        if cells is None:
            record, style = self.record, self.style
            cells = self._cells = (
                Cell(self.name, style),
                Cell(record.id, style),
                Cell(perms_text(record.permissions), style),
                Cell(format_date(record.created_at), style),
                Cell(self.expires, style),
                Cell(status_text(record, self.status), style),
                Cell(self.last_used, style),
                Cell(self.directories, style),
                Cell(self.note, style),
            )
        return cells

    @property
    def cells_built(self) -> bool:
        """Whether `cells` has been asked for (only rows that were painted)."""
        return self._cells is not None

    @staticmethod
    def containing(rows: Iterable[TokenRow], needle: str) -> list[TokenRow]:
        """The rows whose filter text (`haystack`) contains `needle` (case-folded).

        One pass that reads each row's kept text directly, and calls the property
        only for rows that have none yet: at 100,000 rows a property call per
        row would be a third of a keystroke's time.
        """
        return [row for row in rows if needle in (row._haystack or row.haystack)]

    def complete(self) -> None:
        """Compute the relative times and the filter's text now."""
        if self._haystack is None:
            self.haystack  # noqa: B018 - computed and kept
        if self._expires is None:
            self._expires = expires_cell(self.record, self.now)
        if self._last_used is None:
            self._last_used = last_used_text(self.record, self.now)

    def __repr__(self) -> str:
        return f"TokenRow({self.id!r}, {self.name!r})"


_NO_STYLE = Style()
