"""A QR code drawn in the terminal: half blocks, two modules to a cell, dark on light.

The code is `core.present.qr_text` (segno's compact terminal output: light
modules drawn as blocks, dark ones left blank). Here every cell gets a white
foreground on a black background, whatever the theme, so the code reads dark on
light as a camera expects, on a light terminal too. Each module is half a cell
high and one cell wide: square on a terminal whose cells are twice as high as
they are wide.

At 80x24 the modal has 21 rows for it: a link of up to 106 bytes is a version 5
code (37 modules) at error correction L, which with a 2-module quiet zone is 41
modules, 21 rows. Error correction L is enough for a code on a screen (nothing
smudges it), and segno raises the level where the version has room to spare. A
quiet zone of 2 modules scans (the standard asks for 4, for print); on a
terminal too short for it, 1 module is used.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core.present import qr_text

QR_ERROR = "l"
QUIET_ZONE = 2
NARROW_QUIET_ZONE = 1
QR_STYLE = "#ffffff on #000000"


def qr_lines(link: str, quiet_zone: int = QUIET_ZONE) -> list[str]:
    """The code's rows of half blocks (`quiet_zone` modules of light around it)."""
    return qr_text(link, error=QR_ERROR, border=quiet_zone).rstrip("\n").split("\n")


class QrCode(Static):
    """`link` as a QR code; `fit(rows)` picks the quiet zone that lets it fit."""

    DEFAULT_CSS = """
    QrCode {
        width: auto;
        height: auto;
        text-wrap: nowrap;
    }
    """

    def __init__(self, link: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._link = link
        self._quiet_zone = QUIET_ZONE
        self._draw()

    @property
    def link(self) -> str:
        return self._link

    @property
    def quiet_zone(self) -> int:
        return self._quiet_zone

    def show(self, link: str) -> None:
        """Draw another link (a new one, after the first expired)."""
        self._link = link
        self._draw()

    def fit(self, rows: int) -> None:
        """Use the 2-module quiet zone if the code then fits in `rows`, else 1."""
        wide = len(qr_lines(self._link, QUIET_ZONE))
        zone = QUIET_ZONE if wide <= rows else NARROW_QUIET_ZONE
        if zone != self._quiet_zone:
            self._quiet_zone = zone
            self._draw()

    def _draw(self) -> None:
        text = "\n".join(qr_lines(self._link, self._quiet_zone))
        self.update(Content.styled(text, QR_STYLE))
