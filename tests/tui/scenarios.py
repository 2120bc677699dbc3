"""Every screen of the TUI as a reproducible scenario: a store file and the keys to press.

The snapshot tests (`tests/snapshots/`) and the screenshot script
(`screenshots/make_screenshots.py`) both render these, so the committed
screenshots are exactly what the snapshot suite checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select

from tests.tui.fixtures import NOW, Sandbox

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for workers (store writes, clipboard) and the repaint after them."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def nothing(pilot: Pilot[Any]) -> None:
    await settle(pilot)


def keys(*pressed: str) -> RunBefore:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*pressed)
        await settle(pilot)

    return run


def then(*steps: RunBefore) -> RunBefore:
    async def run(pilot: Pilot[Any]) -> None:
        for step in steps:
            await step(pilot)

    return run


async def create_with_errors(pilot: Pilot[Any]) -> None:
    """The create form after typing a taken name, unticking every permission and
    asking for a zero-length custom expiry, then pressing Create."""
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    screen = pilot.app.screen
    await pilot.press(*"laptop")
    for box in screen.query(Checkbox):
        box.value = False
    screen.query_one("#expiry", Select).value = "custom"
    await pilot.pause()
    screen.query_one("#custom-expiry", Input).value = "0d"
    await pilot.pause()
    await pilot.click("#create")
    await settle(pilot)


async def new_secret(pilot: Pilot[Any]) -> None:
    """Create a token named `deploy-bot` with the defaults: the secret modal."""
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    await pilot.press(*"deploy-bot", "enter")
    await settle(pilot)


async def rotate_custom(pilot: Pilot[Any]) -> None:
    """Rotate laptop (never expires) with a custom expiry date typed in."""
    await pilot.pause()
    await pilot.press("down", "down", "r")
    await pilot.pause()
    screen = pilot.app.screen
    screen.query_one("#expiry", Select).value = "custom"
    await pilot.pause()
    await pilot.press(*"2025-12-31")
    await settle(pilot)


async def migrate(pilot: Pilot[Any]) -> None:
    """On the legacy screen: migrate, confirm (focus starts on Cancel)."""
    await pilot.pause()
    await pilot.press("m")
    await pilot.pause()
    await pilot.press("right", "enter")
    await settle(pilot)


async def create_filled(pilot: Pilot[Any]) -> None:
    """The create form with a name, a note, two directories added (one as ~/...),
    execute alone ticked (explained: it can pass no request) and a relative path
    typed (shown as the absolute path it stands for)."""
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    screen = pilot.app.screen
    await pilot.press(*"deploy-bot")
    screen.query_one("#note", Input).value = "deploys main from CI"
    screen.query_one("#perm-read", Checkbox).value = False
    screen.query_one("#perm-write", Checkbox).value = False
    screen.query_one("#directory", Input).focus()
    await pilot.pause()
    await pilot.press(*"~/src/app", "enter")
    await pilot.press(*"/srv/www", "enter")
    await pilot.press(*"src/lib")
    await settle(pilot)


GATEWAY = "https://gw.example.net:8443"


async def pair_form(pilot: Pilot[Any]) -> None:
    """`P`, the gateway's address typed: the pairing form."""
    await pilot.pause()
    await pilot.press("P")
    await pilot.pause()
    await pilot.press(*GATEWAY)
    await settle(pilot)


async def paired(pilot: Pilot[Any]) -> None:
    """The pairing form submitted with its defaults: the link and its QR code."""
    await pair_form(pilot)
    await pilot.press("enter")
    await settle(pilot)


def prepare_sessions(sandbox: Sandbox) -> None:
    """The populated store, two browsers signed in as ci-deploy (the login page, a
    pairing link), one seen since."""
    sandbox.populate()
    yesterday = sandbox.store(now=NOW - timedelta(days=1))
    firefox = yesterday.create_session(
        "ci-deploy",
        client="192.0.2.10",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    )
    store = sandbox.store()
    store.record_session_seen({firefox.record.id: (NOW - timedelta(hours=2), "192.0.2.10")})
    link = store.create_pairing("ci-deploy")
    store.consume_pairing(
        link.code.reveal(),
        client="198.51.100.7",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile Safari",
    )


def prepare_read_only(sandbox: Sandbox) -> None:
    """The populated store, its file without write permission."""
    sandbox.populate()
    sandbox.path.chmod(0o400)


def prepare_scoped(sandbox: Sandbox) -> None:
    """The populated store, ci-deploy with a note and two directories."""
    sandbox.populate()
    sandbox.store().edit(
        "ci-deploy",
        note="deploys main from CI",
        directories=[str(sandbox.home / "src" / "app"), "/srv/www"],
    )


def prepare_nothing(sandbox: Sandbox) -> None:
    """No store file at all: what a first run sees."""


def prepare_populated(sandbox: Sandbox) -> None:
    sandbox.populate()


def prepare_corrupt(sandbox: Sandbox) -> None:
    sandbox.corrupt()


def prepare_legacy(sandbox: Sandbox) -> None:
    sandbox.legacy()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    prepare: Callable[[Sandbox], None]
    run_before: RunBefore = nothing
    size: tuple[int, int] = (80, 24)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("empty", "A new, empty store", prepare_nothing),
        Scenario("main", "Tokens: active, expiring, expired, never", prepare_populated),
        Scenario("main-wide", "The same store at 120 by 36", prepare_populated, size=(120, 36)),
        Scenario("main-narrow", "The same store at 60 by 20", prepare_populated, size=(60, 20)),
        Scenario(
            "main-scoped-wide",
            "At 120 by 36 the directories and note columns are shown",
            prepare_scoped,
            size=(120, 36),
        ),
        Scenario("read-only", "A read-only store, marked before a change fails", prepare_read_only),
        Scenario("filter", "Filtering by name or id", prepare_populated, keys("slash", "a", "g")),
        Scenario(
            "sorted",
            "Sorted by created, newest first: ▼ in the header",
            prepare_populated,
            keys("s", "s", "s", "s"),
        ),
        Scenario("create", "The create form", prepare_populated, keys("n")),
        Scenario("create-errors", "Create form with errors", prepare_populated, create_with_errors),
        Scenario("secret", "The new secret, shown once", prepare_populated, new_secret),
        Scenario(
            "secret-close",
            "Closing the secret without copying",
            prepare_populated,
            then(new_secret, keys("escape")),
        ),
        Scenario(
            "secret-copied",
            "Copied: the outcome in the modal, no toast over the buttons",
            prepare_populated,
            then(new_secret, keys("c")),
        ),
        Scenario("delete", "Delete confirmation", prepare_populated, keys("d")),
        Scenario("rotate", "Rotate: confirmation and the new expiry", prepare_populated, keys("r")),
        Scenario(
            "rotate-custom",
            "Rotate with a custom expiry date",
            prepare_populated,
            rotate_custom,
        ),
        Scenario("prune", "Prune: the expired tokens named", prepare_populated, keys("p")),
        Scenario("details", "Token details", prepare_populated, keys("down", "down", "enter")),
        Scenario(
            "create-filled",
            "New token: a note, directories, execute alone explained, a relative path resolved",
            prepare_populated,
            create_filled,
        ),
        Scenario(
            "edit",
            "Edit: the token's fields filled in, its expiry kept",
            prepare_scoped,
            keys("e"),
        ),
        Scenario(
            "edit-narrow",
            "Edit at 60 by 20: the fields scroll, the buttons and the footer stay",
            prepare_scoped,
            keys("e"),
            size=(60, 20),
        ),
        Scenario(
            "details-scoped",
            "Details: the note, the directories, and what the token can and cannot do",
            prepare_scoped,
            keys("enter"),
            size=(80, 36),
        ),
        Scenario(
            "details-sessions",
            "Details: the browsers signed in as the token",
            prepare_sessions,
            keys("enter"),
            size=(80, 36),
        ),
        Scenario(
            "pair-form",
            "Pair a device: the create form and the gateway",
            prepare_populated,
            pair_form,
        ),
        Scenario(
            "pairing", "Pair a device: the one-time link as a QR code", prepare_populated, paired
        ),
        Scenario("help", "Keys", prepare_populated, keys("question_mark")),
        Scenario("corrupt", "A corrupt store file", prepare_corrupt),
        Scenario("legacy", "A PR #8217 file: migration offered", prepare_legacy),
        Scenario("migrated", "After migrating", prepare_legacy, migrate),
        Scenario(
            "migrated-table",
            "Migrated tokens, marked legacy until rotated",
            prepare_legacy,
            then(migrate, keys("enter")),
        ),
    )
}


def build(scenario: Scenario, sandbox: Sandbox) -> Any:
    """The app for `scenario`, its store file prepared in `sandbox`."""
    scenario.prepare(sandbox)
    return sandbox.app()
