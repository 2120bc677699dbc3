"""The web app's views of a project still work under the headers that keep project
content from running (issue 16: sandbox, nosniff, attachment on opencode's API; the
app's own files framed by this origin only): through the gateway, nginx and Caddy,
a person signed in with a full token (the login page) sees a changed file's diff and
an image in the review panel, opens a file, and runs a command in a terminal.

How a person gets there in opencode 1.18.33: in a session, "Toggle review" (top
right) opens the review panel listing the git changes - a file's entry shows its
diff, an image's shows the picture; "Open file" (the + of that panel's tabs) finds a
file by name and opens it in a tab; ctrl+` opens the terminal. The app reads files
with `GET /file/content` (JSON; an image comes back as base64 and is shown from a
data: URL) and diffs with `GET /vcs/diff`: none of it needs opencode's API inline.

Each view is checked on the page (the text, the image's decoded size) and kept as a
screenshot: in $OAT_SCREENSHOT_DIR when set, else in the test's tmp_path.
"""

from __future__ import annotations

import os
import secrets
import struct
import subprocess
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.clients import harness
from tests.clients.test_webapp import EXPECTED_REFUSALS

WAIT_MS = harness.WAIT * 1000
SCREENSHOT_DIR = "OAT_SCREENSHOT_DIR"
PICTURE_SIZE = (64, 48)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain RGB PNG, one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Views:
    """What the project holds for the views: a file to open, a committed file with an
    uncommitted change (the diff), a new picture."""

    shown: str  # a file's name, opened by name
    shown_line: str  # its text
    changed: str  # the changed file's name
    changed_line: str  # the line the change added
    picture: str  # the picture's file name


@pytest.fixture(scope="module")
def views(opencode_server: harness.Server) -> Iterator[Views]:
    project = opencode_server.project
    nonce = secrets.token_hex(3)
    found = Views(
        f"shown-{nonce}.txt",
        f"a file the web app shows {nonce}",
        f"changed-{nonce}.txt",
        f"second line, changed {nonce}",
        f"picture-{nonce}.png",
    )
    (project / found.changed).write_text("first line\nsecond line\n")
    git = ["git", "-C", str(project), "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    subprocess.run([*git, "add", found.changed], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a file to change"], check=True)
    (project / found.changed).write_text(f"first line\n{found.changed_line}\n")
    (project / found.shown).write_text(found.shown_line + "\n")
    (project / found.picture).write_bytes(_png(*PICTURE_SIZE, (220, 30, 30)))
    try:
        yield found
    finally:
        (project / found.changed).write_text("first line\nsecond line\n")  # no diff left
        (project / found.shown).unlink(missing_ok=True)
        (project / found.picture).unlink(missing_ok=True)


def _screenshot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get(SCREENSHOT_DIR) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # drawn
    page.screenshot(path=str(folder / name))


_PICTURE_SHOWN = """([name, width, height]) => [...document.querySelectorAll('img')].some(
  i => i.complete && i.naturalWidth === width && i.naturalHeight === height
    && i.src.startsWith('data:image/png'))"""


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def test_webapp_shows_files_images_diffs_and_terminals(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    every_front: harness.Front,
    tokens: harness.Tokens,
    views: Views,
    tmp_path: Path,
) -> None:
    front = every_front
    # As test_webapp, under a name that is not loopback (the terminal's ticket needs
    # Origin = Host) - but for Caddy, whose site address in the README's Caddyfile
    # (filled in with 127.0.0.1) matches no other Host: it answers an empty 200.
    origin = front.url if front.kind == "caddy" else harness.with_host(front.url, harness.TEST_HOST)
    log = harness.RequestLog()
    mark = front.mark()
    with harness.browser(playwright, chromium, hosts={harness.TEST_HOST: "127.0.0.1"}) as context:
        context.add_init_script(harness.projects_seed(opencode_server.project))
        log.watch(context)
        page = context.new_page()
        harness.sign_in(page, origin, tokens.secrets["rwx"])
        session = page.get_by_text(harness.SESSION_TITLE).first
        session.wait_for(timeout=WAIT_MS)
        session.click()
        page.locator("[contenteditable]").first.wait_for(timeout=WAIT_MS)

        # the review panel: the change's diff (drawn in a shadow root, which
        # Playwright's text locators see into)
        page.get_by_role("button", name="Toggle review").click()
        page.get_by_text(views.changed).first.click()
        page.get_by_text(views.changed_line).first.wait_for(timeout=WAIT_MS)
        page.get_by_text("second line", exact=True).first.wait_for(timeout=WAIT_MS)  # removed
        _screenshot(page, tmp_path, f"views-{front.kind}-diff.png")

        # the new picture's entry: the image itself, decoded
        page.get_by_text(views.picture).first.click()
        page.wait_for_function(_PICTURE_SHOWN, arg=[views.picture, *PICTURE_SIZE])
        _screenshot(page, tmp_path, f"views-{front.kind}-image.png")

        # a file opened by name, in a tab of its own
        page.get_by_role("button", name="Open file").click()
        page.keyboard.type(views.shown)
        found = page.get_by_text(views.shown).last
        found.wait_for(timeout=WAIT_MS)
        # clicked, not Enter: Enter takes whichever entry is highlighted, and on a busy
        # machine the list could still be the one for the first letters typed
        found.click()
        page.get_by_text(views.shown_line).first.wait_for(timeout=WAIT_MS)
        _screenshot(page, tmp_path, f"views-{front.kind}-file.png")

        log.phase = "terminal"
        harness.open_terminal(page, log)
        harness.run_in_terminal(page, log, harness.ECHO_COMMAND, harness.ECHO_OUTPUT)
        _screenshot(page, tmp_path, f"views-{front.kind}-terminal.png")
    rows = harness.app_rows(front.settle(mark))

    assert set(harness.refusals(rows)) <= EXPECTED_REFUSALS, harness.refusals(rows)
    reads = [
        (s.method, _path(s.url), s.status)
        for s in log.seen
        if _path(s.url) in ("/vcs/diff", "/file/content", "/find/file")
    ]
    assert {("GET", "/vcs/diff", 200), ("GET", "/file/content", 200)} <= set(reads)
    assert all(status == 200 for _, _, status in reads), reads
    assert log.websockets() and harness.ECHO_OUTPUT in log.terminal_text()
