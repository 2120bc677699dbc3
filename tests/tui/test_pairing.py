"""Pairing a device from the TUI (`P`) and a token's browser sessions in its details.

The QR code is read back from what the terminal shows - the modal's cells, as a
picture - with zbar's `zbarimg`, a real decoder, and must give the link shown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.tui.fixtures import Sandbox
from tests.tui.helpers import notes, screen_text, settle, text_of
from tests.tui.scenarios import GATEWAY
from tui.keys import DetailsKeys, MainKeys, PairingKeys
from tui.screens.confirm import ConfirmScreen
from tui.screens.details import DetailsScreen
from tui.screens.main import MainScreen
from tui.screens.pair_device import PairDeviceScreen
from tui.screens.pairing_link import PairingLinkScreen
from tui.widgets.qr_code import QrCode

# A terminal cell of the code: light modules are drawn, dark ones left blank
# (the upper half, the lower half).
LIGHT_HALVES = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


@pytest.fixture(scope="module")
def zbarimg() -> str:
    path = shutil.which("zbarimg")
    if path is None:
        # as real_servers.missing: under CI a missing component fails, never skips
        why = "zbarimg is not installed: run .ci/install-zbar.sh (Debian package zbar-tools)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return str(path)


def decode_cells(rows: list[str], zbarimg: str, folder: Path, scale: int = 4) -> str:
    """The cells of a drawn code as a black-on-white PBM, decoded by zbarimg."""
    modules: list[list[int]] = []
    for row in rows:
        halves = [LIGHT_HALVES[char] for char in row]
        modules.append([0 if upper else 1 for upper, _ in halves])
        modules.append([0 if lower else 1 for _, lower in halves])
    width = len(modules[0])
    margin = 8 * scale  # white around it, as paper would have
    lines = ["P1", f"{width * scale + 2 * margin} {len(modules) * scale + 2 * margin}"]
    blank = " ".join(["0"] * (width * scale + 2 * margin))
    lines += [blank] * margin
    for module_row in modules:
        pixels = [str(bit) for bit in module_row for _ in range(scale)]
        lines += [" ".join(["0"] * margin + pixels + ["0"] * margin)] * scale
    lines += [blank] * margin
    image = folder / "qr.pbm"
    image.write_text("\n".join(lines) + "\n")
    found = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(image)], capture_output=True, text=True, timeout=60
    )
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def shown_code(pilot: Pilot[Any]) -> list[str]:
    """The code's rows as the terminal shows them (the QrCode widget's cells)."""
    region = pilot.app.screen.query_one(QrCode).region
    lines = screen_text(pilot).splitlines()
    return [lines[y][region.x : region.right] for y in range(region.y, region.bottom)]


async def open_pairing(pilot: Pilot[Any], url: str = GATEWAY) -> PairDeviceScreen:
    await settle(pilot)
    await pilot.press(MainKeys.PAIR.key.split(",")[0])
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, PairDeviceScreen)
    if url:
        await pilot.press(*url)
        await pilot.pause()
    return screen


async def test_pairing_a_device_shows_a_one_time_link_whose_qr_code_decodes_to_it(
    populated: Sandbox, zbarimg: str, tmp_path: Path
) -> None:
    before = {r.id for r in populated.store().tokens()}
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pairing(pilot)
        assert "The link will be https://gw.example.net:8443/_auth/pair?code=" in text_of(
            app.screen.query_one("#gateway-url-feedback", Static)
        )
        await pilot.press("enter")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PairingLinkScreen)
        link = modal.paired.link
        assert link.startswith(f"{GATEWAY}/_auth/pair?code=ocpair_")
        text = screen_text(pilot)
        side = modal.query_one("#pairing-side").region
        lines = text.splitlines()
        beside = "".join(lines[y][side.x : side.right].strip() for y in range(side.y, side.bottom))
        assert link in beside, "the link in full, as text, beside the code"
        assert "ocat_" not in text, "the token's secret is never on screen"
        assert "Works once, within 5:00" in beside
        # It fits 80 by 24: the code, the buttons and the footer, inside the border.
        qr = modal.query_one(QrCode).region
        dialog = modal.query_one(".dialog").region
        assert dialog.contains_region(qr) and qr.bottom < 23 and qr.right <= 79
        for button in ("#copy", "#done"):
            assert dialog.contains_region(modal.query_one(button).region), button
        assert decode_cells(shown_code(pilot), zbarimg, tmp_path) == link
        await pilot.press(PairingKeys.DONE.key)
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    store = populated.store()
    (device,) = [r for r in store.tokens() if r.id not in before]
    assert device.name == "device-1"
    snapshot = store.load()
    (pairing,) = snapshot.pairings
    assert pairing.token_id == device.id
    code = link.split("code=", 1)[1]
    assert code not in populated.path.read_text(), "only the code's digest is stored"
    assert store.pairing_state(code) is not None
    # The link works once: the device's browser gets a session of that token.
    session = store.consume_pairing(code, client="198.51.100.7", user_agent="phone")
    assert session.record.token_id == device.id


async def test_the_modal_says_when_the_link_was_used_and_offers_a_new_one_once_expired(
    populated: Sandbox,
) -> None:
    app = populated.app(poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pairing(pilot)
        await pilot.press("enter")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PairingLinkScreen)
        assert not modal.expired
        await pilot.press(PairingKeys.NEW_LINK.key)  # the link still works: nothing new
        await settle(pilot)
        assert len(populated.store().load().pairings) == 1
        code = modal.paired.link.split("code=", 1)[1]
        populated.store().consume_pairing(code, client="198.51.100.7", user_agent="Phone/1.0")
        await pilot.pause(0.3)
        await settle(pilot)
        state = text_of(modal.query_one("#pairing-state", Static))
        assert state.startswith("✓ Used: a browser signed in from 198.51.100.7 (Phone/1.0)")


async def test_an_expired_link_is_replaced_by_a_new_one(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pairing(pilot)
        await pilot.press("enter")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PairingLinkScreen)
        first = modal.paired.link
        later = modal.paired.pairing.expires_at
        app.store.clock = lambda: later  # five minutes on
        await pilot.pause(1.2)
        assert modal.expired
        state = text_of(modal.query_one("#pairing-state", Static))
        assert state == "This link expired unused: press n for a new one."
        await pilot.press(PairingKeys.NEW_LINK.key)
        await settle(pilot)
        assert modal.paired.link != first and not modal.expired
        assert modal.query_one(QrCode).link == modal.paired.link


async def test_a_bad_address_is_refused_and_nothing_is_made(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pairing(pilot, "gw.example.net/app")
        problem = text_of(screen.query_one("#gateway-url-feedback", Static))
        assert problem.startswith("✗")
        assert screen.query_one("#gateway-url", Input).has_class("-invalid")
        await pilot.click("#pair")
        await settle(pilot)
        assert app.screen is screen, "Pair is refused"
        assert app.focused is screen.query_one("#gateway-url", Input)
        assert "Fix the fields marked ✗ first." in screen_text(pilot)
        screen.query_one("#gateway-url", Input).value = "http://192.0.2.5:4096"
        await pilot.pause()
        assert "clear text" in text_of(screen.query_one("#gateway-url-feedback", Static))
        assert "Fix the fields" not in screen_text(pilot), "gone once the field is fixed"
        await pilot.press("escape")  # filled in: asked first
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert populated.path.read_bytes() == before, "no token, no link"


async def test_the_address_is_remembered_for_the_next_device(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pairing(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press(PairingKeys.DONE.key)
        await settle(pilot)
        screen = await open_pairing(pilot, "")
        assert screen.gateway_url == GATEWAY
        assert app.focused is screen.query_one("#name", Input), "on to what differs"
        assert "device-2" in screen_text(pilot)


# --- sessions in the details ------------------------------------------------------------


def sign_in_two_browsers(sandbox: Sandbox) -> None:
    store = sandbox.store()
    store.create_session("ci-deploy", client="192.0.2.10", user_agent="Firefox/128.0")
    link = store.create_pairing("ci-deploy")
    store.consume_pairing(link.code.reveal(), client="198.51.100.7", user_agent="\x1b[31mPhone")
    store.create_pairing("ci-deploy")  # a link not used yet


async def test_details_list_the_sessions_and_one_key_ends_them_all(populated: Sandbox) -> None:
    sign_in_two_browsers(populated)
    (firefox, phone) = sorted(populated.store().sessions(), key=lambda s: s.via)
    app = populated.app()
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        details = app.screen
        assert isinstance(details, DetailsScreen)
        text = text_of(details.query_one("#detail-sessions", Static))
        assert text.startswith("2 browsers signed in as this token:")
        assert f"{firefox.id} · from 192.0.2.10 · last seen not yet" in text
        assert "signed in just now via the login page" in text and "Firefox/128.0" in text
        assert f"{phone.id} · from 198.51.100.7" in text and "via a pairing link" in text
        assert "\\x1b[31mPhone" in text, "a User-Agent is shown escaped"
        await pilot.press(DetailsKeys.END_SESSIONS.key)
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "2 browser sessions and 1 unused pairing link" in screen_text(pilot)
        assert app.focused is confirm.query_one("#cancel"), "Cancel first"
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is details
        assert "none: no browser is signed in" in text_of(
            details.query_one("#detail-sessions", Static)
        )
        assert "✓ Ended 2 browser sessions" in screen_text(pilot)
    store = populated.store()
    snapshot = store.load()
    assert snapshot.sessions == () and snapshot.pairings == ()
    assert store.get("ci-deploy").name == "ci-deploy", "the token itself stays"


async def test_ending_sessions_when_there_are_none_says_so(populated: Sandbox) -> None:
    before = populated.path.read_bytes()
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press(DetailsKeys.END_SESSIONS.key)
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen), "nothing to ask about"
        outcome = text_of(app.screen.query_one("#details-outcome", Static))
        assert outcome.endswith("there is nothing to end.")
        assert not [n for n in notes(pilot) if n[2] == "error"]
    assert populated.path.read_bytes() == before
