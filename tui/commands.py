"""Command palette (ctrl+p) providers: every key-bound action, findable by name.

One provider per screen that has actions, attached with the screen's `COMMANDS`;
Textual's own system commands (theme, keys, quit) come from the app.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.table_model import COLUMNS, Sort

if TYPE_CHECKING:
    from tui.screens.main import MainScreen
    from tui.screens.store_error import LegacyStoreScreen, StoreErrorScreen


ProviderSet = set[type[Provider] | Callable[[], type[Provider]]]
"""The type of a screen's `COMMANDS`."""


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], object]


class _ScreenCommands(Provider):
    """Shared search/discover over the `commands()` of a subclass."""

    @abstractmethod
    def commands(self) -> list[PaletteCommand]:
        """The commands this screen offers right now."""

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)


class MainCommands(_ScreenCommands):
    def commands(self) -> list[PaletteCommand]:
        from tui.screens.main import MainScreen

        screen = self.screen
        if not isinstance(screen, MainScreen):
            return []
        main: MainScreen = screen
        commands = [
            PaletteCommand(
                "token: New", "Create a token (n)", lambda: main.run_action("new_token")
            ),
        ]
        if main.selected is not None:
            commands += [
                PaletteCommand(
                    "token: Edit",
                    "Change the selected token's name, note, permissions, directories or "
                    "expiry; its secret stays (e)",
                    lambda: main.run_action("edit_token"),
                ),
                PaletteCommand(
                    "token: Delete",
                    "Delete the selected token (d)",
                    lambda: main.run_action("delete_token"),
                ),
                PaletteCommand(
                    "token: Rotate",
                    "Give the selected token a new secret, and a new expiry if you like (r)",
                    lambda: main.run_action("rotate_token"),
                ),
                PaletteCommand(
                    "token: Details",
                    "Show everything about the selected token (enter)",
                    lambda: main.run_action("details"),
                ),
                PaletteCommand(
                    "token: Copy id",
                    "Copy the selected token's id, not its secret (y)",
                    lambda: main.run_action("copy_id"),
                ),
            ]
        commands.append(
            PaletteCommand(
                "token: Prune expired",
                "Delete the expired tokens, after naming them (p)",
                lambda: main.run_action("prune"),
            )
        )
        commands += [
            PaletteCommand(
                "view: Filter",
                "Show tokens whose name or id contains… (/)",
                lambda: main.run_action("filter"),
            ),
            PaletteCommand(
                "view: Next sort order",
                f"Sort {main.sort.next().description} (s)",
                lambda: main.run_action("cycle_sort"),
            ),
            PaletteCommand(
                "view: Reverse the sort",
                f"Sort {main.sort.reversed().description} (click the sorted column)",
                lambda: main.run_action("reverse_sort"),
            ),
            *(
                PaletteCommand(
                    f"view: Sort by {spec.label}",
                    f"Sort {Sort.by(spec.key).description} (click its header)",
                    partial(main.run_action, f"sort_by({spec.key!r})"),
                )
                for spec in COLUMNS
            ),
            PaletteCommand("help: Keys", "List the keys (?)", lambda: main.run_action("help")),
            PaletteCommand(
                "app: Quit", "Quit opencode-auth-tui (q)", lambda: main.run_action("app.quit")
            ),
        ]
        return commands


class StoreErrorCommands(_ScreenCommands):
    def commands(self) -> list[PaletteCommand]:
        from tui.screens.store_error import LegacyStoreScreen, StoreErrorScreen

        screen = self.screen
        commands: list[PaletteCommand] = []
        if isinstance(screen, LegacyStoreScreen):
            legacy: LegacyStoreScreen = screen
            commands.append(
                PaletteCommand(
                    "store: Migrate",
                    "Convert the old-format file, keeping a backup (m)",
                    lambda: legacy.run_action("migrate"),
                )
            )
        if isinstance(screen, StoreErrorScreen | LegacyStoreScreen):
            error_screen: StoreErrorScreen | LegacyStoreScreen = screen
            commands += [
                PaletteCommand(
                    "store: Retry",
                    "Read the store file again (r)",
                    lambda: error_screen.run_action("retry"),
                ),
                PaletteCommand(
                    "app: Quit",
                    "Quit opencode-auth-tui (q)",
                    lambda: error_screen.run_action("quit"),
                ),
            ]
        return commands
