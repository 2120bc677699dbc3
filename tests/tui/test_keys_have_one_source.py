"""Every text that names a key is built from the binding that binds it.

A key is written once, as a `Binding` with an id (`tui.keys`, or a modal's own
class). The footer's order, the help screen, the command palette and sentences
like "press n to create a token" are built from those bindings; these tests fail
when one of them names a key, an id or an action that no binding of its screen
has, or leaves a key out. Each check returns the problems it found, and the last
tests feed each one a drifted copy, to show that it would catch it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.screen import Screen

from tests.tui.fixtures import Sandbox
from tests.tui.helpers import main_screen, notes, screen_text, settle
from tui.app import AuthApp
from tui.commands import (
    DetailsCommands,
    MainCommands,
    PaletteCommand,
    StoreErrorCommands,
    keyed,
)
from tui.keys import AppKeys, DetailsKeys, MainKeys, TableKeys, key_text, keys_of, named
from tui.screens import (
    confirm,
    create,
    details,
    edit,
    help,
    main,
    pair_device,
    pairing_link,
    rotate,
    secret,
    store_error,
)
from tui.screens.help import HelpRow, help_rows
from tui.widgets.token_table import TokenTable

TUI = Path(__file__).resolve().parents[2] / "tui"

KEYED: list[type[DOMNode]] = [
    AuthApp,
    main.MainScreen,
    TokenTable,
    create.CreateTokenScreen,
    edit.EditTokenScreen,
    secret.SecretScreen,
    confirm.ConfirmScreen,
    confirm.NoticeScreen,
    details.DetailsScreen,
    help.HelpScreen,
    rotate.RotateScreen,
    pair_device.PairDeviceScreen,
    pairing_link.PairingLinkScreen,
    store_error.StoreErrorScreen,
    store_error.LegacyStoreScreen,
]


# Keys the help screen leaves out, and why.
NOT_IN_HELP = {
    TableKeys.DETAILS.id: "the same key (enter) as main.details, which the help names",
    TableKeys.LEFT.id: "scrolls the table sideways, only ever needed on a narrow terminal",
    TableKeys.RIGHT.id: "scrolls the table sideways, only ever needed on a narrow terminal",
    AppKeys.HELP_QUIT.id: "Textual's ctrl+c, which only says to press ctrl+q",
}
# Keys of the main screen with no palette entry, and why.
NOT_IN_PALETTE = {
    MainKeys.CLEAR_FILTER.id: "clears the filter being typed; the palette is not open then",
}


def bindings_of(cls: type[DOMNode]) -> list[Binding]:
    found = []
    for binding in cls.BINDINGS:
        assert isinstance(binding, Binding), (cls.__name__, binding)
        found.append(binding)
    return found


# What the main screen binds: its own keys, its table's, and the app's.
MAIN_BOUND = [*bindings_of(main.MainScreen), *bindings_of(TokenTable), *bindings_of(AuthApp)]
# ... and of those, what the palette offers: the main screen's own actions.
MAIN_OFFERED = [b for b in bindings_of(main.MainScreen) if b.id not in NOT_IN_PALETTE]


def action_name(action: str) -> tuple[str, str]:
    """("app", "quit") for "app.quit", ("", "choose") for "choose('edit')"."""
    name = action.split("(", 1)[0]
    namespace, _, name = name.rpartition(".")
    return namespace, name


# --- the checks --------------------------------------------------------------------------


def footer_problems(
    order: Sequence[str], drop: Sequence[str], bound: Sequence[Binding]
) -> list[str]:
    """`FOOTER_ORDER` and `FOOTER_DROP` name bindings of the screen, and every key the
    footer shows is in the order."""
    known = {binding.id for binding in bound}
    problems = [
        f"footer names {i!r}, which no binding has" for i in (*order, *drop) if i not in known
    ]
    problems += [
        f"{binding.id} is shown in the footer but not in FOOTER_ORDER"
        for binding in bound
        if binding.show and not binding.system and binding.id not in order
    ]
    problems += [f"{i} can be dropped but is not shown" for i in drop if i not in order]
    return problems


def help_problems(rows: Sequence[HelpRow], bound: Sequence[Binding], palette_key: str) -> list[str]:
    """Every key a help row names is bound as it says; every binding is in a row."""
    ids = {binding.id: binding for binding in bound}
    problems = []
    listed: set[str | None] = set()
    for row in rows:
        for binding in (*row.keys, *row.mentions):
            if binding.action == "app.command_palette":
                if keys_of(binding) != [palette_key]:
                    problems.append(f"the help names {binding.key} for the palette")
                continue
            listed.add(binding.id)
            if ids.get(binding.id) != binding:
                problems.append(f"the help row {row.what!r} names {binding.id}, bound otherwise")
        if not row.keys and row.click is None:
            problems.append(f"the help row {row.what!r} names no key")
    problems += [
        f"{binding.id} ({binding.key}) is not on the help screen"
        for binding in bound
        if binding.id not in listed and binding.id not in NOT_IN_HELP
    ]
    return problems


def palette_problems(
    commands: Sequence[PaletteCommand], bound: Sequence[Binding], offered: Sequence[Binding]
) -> list[str]:
    """Each keyed command is a binding of its screen (`bound`), runs its action and
    names its key; a command without a key runs an action no key runs; every
    action of `offered` has a command."""
    ids = {binding.id: binding for binding in bound}
    problems = []
    for command in commands:
        key = command.key
        if key is None:
            if any(b.action == command.action for b in bound):
                problems.append(f"{command.title!r} runs a bound action but names no key")
            if not re.search(r"\(click[^)]*\)$", command.help):
                problems.append(f"{command.title!r} has no key and says no click")
            continue
        if ids.get(key.id) != key:
            problems.append(f"{command.title!r} names {key.id}, which its screen does not bind")
        if command.action != key.action:
            problems.append(f"{command.title!r} runs {command.action}, its key {key.action}")
        if not command.help.endswith(f"({named(key)})"):
            problems.append(f"{command.title!r} says {command.help!r}, its key is {named(key)}")
    actions = {command.action for command in commands}
    problems += [
        f"{binding.id} ({binding.action}) has no palette command"
        for binding in offered
        if binding.action not in actions
    ]
    return problems


PRESS = re.compile(r"\bpress (\S+?)[.,:]?(?=\s)")


def press_problems(text: str, active: Iterable[Binding]) -> list[str]:
    """Every "press X" in `text` names a key of a binding active on the screen."""
    keys = {key_text(key) for binding in active for key in keys_of(binding)}
    return [f"'press {word}': no such key here" for word in PRESS.findall(text) if word not in keys]


def literal_key_problems(source: str, where: str) -> list[str]:
    """String literals (not docstrings) that name a key themselves: "press r",
    "(q)". They must take it from the binding (`named`)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    written = re.compile(r"\bpress [^\s$]|\((?:[a-z]|enter|escape|delete|[/?]|ctrl\+\w+)\)")
    return [
        f"{where}:{node.lineno}: {node.value!r} writes a key"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and written.search(node.value)
    ]


def active_bindings(screen: Screen[Any]) -> list[Binding]:
    return [active.binding for active in screen.active_bindings.values()]


# --- the TUI as it is --------------------------------------------------------------------


def test_every_binding_has_an_id_unique_to_it() -> None:
    seen: dict[str, Binding] = {}
    for cls in KEYED:
        for binding in bindings_of(cls):
            assert binding.id, (cls.__name__, binding)
            assert seen.setdefault(binding.id, binding) == binding, binding.id


def test_every_binding_runs_an_action_its_owner_has() -> None:
    for cls in KEYED:
        for binding in bindings_of(cls):
            namespace, name = action_name(binding.action)
            owner = AuthApp if namespace == "app" else cls
            assert namespace in ("", "app"), binding
            assert callable(getattr(owner, f"action_{name}", None)), (cls.__name__, binding)


def test_the_footer_order_is_made_of_the_main_screens_bindings() -> None:
    screen = main.MainScreen
    assert footer_problems(screen.FOOTER_ORDER, screen.FOOTER_DROP, MAIN_BOUND) == []
    # ? (the full list) and esc (clear the filter) are never left out
    kept = set(screen.FOOTER_ORDER) - set(screen.FOOTER_DROP)
    assert kept == {MainKeys.HELP.id, MainKeys.CLEAR_FILTER.id}


async def test_the_help_screen_lists_every_key_as_bound(populated: Sandbox) -> None:
    rows = help_rows(AuthApp.COMMAND_PALETTE_BINDING)
    assert help_problems(rows, MAIN_BOUND, AuthApp.COMMAND_PALETTE_BINDING) == []
    app = populated.app()
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await pilot.press(MainKeys.HELP.key)
        await settle(pilot)
        assert isinstance(app.screen, help.HelpScreen)
        lines = screen_text(pilot).splitlines()
        for row in rows:
            line = next((line for line in lines if f" {row.what}" in line), None)
            assert line is not None, row.what
            assert f" {row.keys_text} " in line, (row.keys_text, line)


async def test_the_palette_runs_the_keys_of_the_main_screen(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        assert screen.selected is not None, "every command is offered with a token selected"
        commands = MainCommands(screen).commands()
        assert palette_problems(commands, MAIN_BOUND, MAIN_OFFERED) == []


async def test_the_palette_runs_the_keys_of_the_details(populated: Sandbox) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(TableKeys.DETAILS.key.split(",")[0])
        await settle(pilot)
        assert isinstance(app.screen, details.DetailsScreen)
        commands = DetailsCommands(app.screen).commands()
        D = DetailsKeys
        offered = [D.CLOSE, D.EDIT, D.DELETE, D.ROTATE, D.END_SESSIONS]
        assert palette_problems(commands, bindings_of(details.DetailsScreen), offered) == []


async def test_the_palette_runs_the_keys_of_the_store_problem_screens(sandbox: Sandbox) -> None:
    for prepare, cls in [
        (sandbox.corrupt, store_error.StoreErrorScreen),
        (sandbox.legacy, store_error.LegacyStoreScreen),
    ]:
        prepare()
        app = sandbox.app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, cls)
            commands = StoreErrorCommands(app.screen).commands()
            assert palette_problems(commands, bindings_of(cls), bindings_of(cls)) == []


async def shows(pilot: Pilot[Any], *keys: str) -> tuple[str, list[Binding]]:
    """The screen's text and notifications after `keys`, and the keys active then."""
    await pilot.press(*keys)
    await settle(pilot)
    said = " ".join(message for _, message, _ in notes(pilot))
    return f"{screen_text(pilot)} {said} ", active_bindings(pilot.app.screen)


async def test_every_press_text_names_a_key_of_its_screen(sandbox: Sandbox) -> None:
    seen: list[str] = []
    app = sandbox.app()  # an empty store
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for keys in [(), (named(MainKeys.EDIT),)]:
            text, active = await shows(pilot, *keys)
            assert press_problems(text, active) == []
            seen += PRESS.findall(text)
    sandbox.populate()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text, active = await shows(pilot, MainKeys.FILTER.key, *"nothing-matches")
        assert press_problems(text, active) == []
        seen += PRESS.findall(text)
    sandbox.corrupt()
    app = sandbox.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text, active = await shows(pilot)
        assert press_problems(text, active) == []
        seen += PRESS.findall(text)
    assert sorted(set(seen)) == ["escape", "n", "r"], "every kind of press text was seen"


def test_no_string_in_the_tui_writes_a_key_itself() -> None:
    problems = []
    for path in sorted(TUI.rglob("*.py")):
        problems += literal_key_problems(path.read_text(), str(path.relative_to(TUI.parent)))
    assert problems == []


# --- the checks catch a drift ------------------------------------------------------------


def test_a_stale_or_missing_footer_id_is_caught() -> None:
    order = (*main.MainScreen.FOOTER_ORDER, "main.renamed")
    assert footer_problems(order, (), MAIN_BOUND) == [
        "footer names 'main.renamed', which no binding has"
    ]
    without_new = tuple(i for i in main.MainScreen.FOOTER_ORDER if i != MainKeys.NEW.id)
    assert footer_problems(without_new, (), MAIN_BOUND) == [
        "main.new is shown in the footer but not in FOOTER_ORDER"
    ]


def test_a_help_row_for_a_key_bound_otherwise_or_a_key_left_out_is_caught() -> None:
    palette = AuthApp.COMMAND_PALETTE_BINDING
    rows = list(help_rows(palette))
    moved = Binding("x", MainKeys.NEW.action, "New", id=MainKeys.NEW.id)  # n rebound in help only
    drifted = [HelpRow((moved,), rows[0].text), *rows[1:]]
    assert help_problems(drifted, MAIN_BOUND, palette) == [
        f"the help row {rows[0].what!r} names main.new, bound otherwise"
    ]
    assert help_problems(rows[1:], MAIN_BOUND, palette) == [
        "main.new (n) is not on the help screen"
    ]


async def test_a_palette_command_with_a_wrong_key_or_no_binding_is_caught(
    populated: Sandbox,
) -> None:
    app = populated.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        commands = MainCommands(screen).commands()
        bound = MAIN_BOUND
        wrong_key = [
            PaletteCommand("token: New", "Create a token (x)", screen, "new_token", MainKeys.NEW),
            *commands[1:],
        ]
        assert palette_problems(wrong_key, bound, MAIN_OFFERED) == [
            "'token: New' says 'Create a token (x)', its key is n"
        ]
        unbound = Binding("z", "new_token", "New", id="main.gone")
        no_binding = [keyed(screen, unbound, "token: New", "Create a token"), *commands[1:]]
        assert palette_problems(no_binding, bound, MAIN_OFFERED) == [
            "'token: New' names main.gone, which its screen does not bind"
        ]
        assert palette_problems(commands[1:], bound, MAIN_OFFERED) == [
            "main.new (new_token) has no palette command"
        ]


def test_a_press_text_or_a_literal_key_that_drifted_is_caught() -> None:
    active: list[Binding] = [MainKeys.NEW]
    assert press_problems("No tokens yet. press x to create a token ", active) == [
        "'press x': no such key here"
    ]
    assert press_problems("press n to create one. ", active) == []
    source = (
        'def f() -> str:\n    """press n in a docstring is fine"""\n    return "press r to retry"\n'
    )
    assert literal_key_problems(source, "f.py") == ["f.py:3: 'press r to retry' writes a key"]
    assert literal_key_problems('HELP = "Delete the token (d)"\n', "g.py") == [
        "g.py:1: 'Delete the token (d)' writes a key"
    ]


def test_key_texts_read_as_the_tui_writes_them() -> None:
    shown = {key: key_text(key) for key in ("n", "slash", "question_mark", "escape", "enter")}
    assert shown == {
        "n": "n",
        "slash": "/",
        "question_mark": "?",
        "escape": "escape",
        "enter": "enter",
    }
    assert [key_text(k) for k in ("up", "down", "pageup", "pagedown", "ctrl+q")] == [
        "↑",
        "↓",
        "pgup",
        "pgdn",
        "ctrl+q",
    ]
