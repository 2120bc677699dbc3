"""Command palette (ctrl+p) providers: every key-bound action, findable by name.

One provider per screen that has actions, attached with the screen's `COMMANDS`;
Textual's own system commands (theme, keys, quit) come from the app. Each entry
is built from the screen's binding (`tui.keys`): it runs the binding's action
and names its key, so the palette cannot drift from the keys.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from tui.keys import DetailsKeys, LegacyStoreKeys, MainKeys, StoreErrorKeys, named
from tui.table_model.columns import COLUMNS
from tui.table_model.sorting import Sort

if TYPE_CHECKING:
    from tui.screens.main import MainScreen


ProviderSet = set[type[Provider] | Callable[[], type[Provider]]]
"""The type of a screen's `COMMANDS`."""


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    """One palette entry: runs `action` on `screen`. `key` is the binding that does
    the same from the keyboard (its key is named at the end of `help`); None for
    what only a click does."""

    title: str
    help: str
    screen: Screen[Any]
    action: str
    key: Binding | None = None

    def run(self) -> Awaitable[object]:
        return self.screen.run_action(self.action)


def keyed(screen: Screen[Any], binding: Binding, title: str, what: str) -> PaletteCommand:
    """The palette entry for a key of `screen`: runs the key's action, names the key."""
    return PaletteCommand(title, f"{what} ({named(binding)})", screen, binding.action, binding)


def clicked(screen: Screen[Any], action: str, title: str, what: str, click: str) -> PaletteCommand:
    """The palette entry for an action no key runs: `click` says what the mouse does."""
    return PaletteCommand(title, f"{what} ({click})", screen, action)


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
        K = MainKeys
        commands = [
            keyed(main, K.NEW, "token: New", "Create a token"),
            keyed(
                main,
                K.PAIR,
                "token: Pair a device",
                "A token for a phone or another browser, and a one-time link (QR code) "
                "that signs it in",
            ),
        ]
        if main.selected is not None:
            commands += [
                keyed(
                    main,
                    K.EDIT,
                    "token: Edit",
                    "Change the selected token's name, note, permissions, directories or "
                    "expiry; its secret stays",
                ),
                keyed(main, K.DELETE, "token: Delete", "Delete the selected token"),
                keyed(
                    main,
                    K.ROTATE,
                    "token: Rotate",
                    "Give the selected token a new secret, and a new expiry if you like",
                ),
                keyed(
                    main, K.DETAILS, "token: Details", "Show everything about the selected token"
                ),
                keyed(
                    main,
                    K.COPY_ID,
                    "token: Copy id",
                    "Copy the selected token's id, not its secret",
                ),
            ]
        commands += [
            keyed(
                main,
                K.PRUNE,
                "token: Prune expired",
                "Delete the expired tokens, after naming them",
            ),
            keyed(main, K.FILTER, "view: Filter", "Show tokens whose name or id contains…"),
            keyed(main, K.SORT, "view: Next sort order", f"Sort {main.sort.next().description}"),
            clicked(
                main,
                "reverse_sort",
                "view: Reverse the sort",
                f"Sort {main.sort.reversed().description}",
                "click the sorted column",
            ),
            *(
                clicked(
                    main,
                    f"sort_by({spec.key!r})",
                    f"view: Sort by {spec.label}",
                    f"Sort {Sort.by(spec.key).description}",
                    "click its header",
                )
                for spec in COLUMNS
            ),
            keyed(main, K.HELP, "help: Keys", "List the keys"),
            keyed(main, K.QUIT, "app: Quit", "Quit opencode-auth-tui"),
        ]
        return commands


class DetailsCommands(_ScreenCommands):
    def commands(self) -> list[PaletteCommand]:
        from tui.screens.details import DetailsScreen

        screen = self.screen
        if not isinstance(screen, DetailsScreen):
            return []
        D = DetailsKeys
        return [
            keyed(
                screen,
                D.END_SESSIONS,
                "token: End sessions",
                "Sign out every browser signed in as this token; the token keeps working",
            ),
            keyed(screen, D.EDIT, "token: Edit", "Change this token's settings"),
            keyed(screen, D.ROTATE, "token: Rotate", "Give this token a new secret"),
            keyed(screen, D.DELETE, "token: Delete", "Delete this token"),
            keyed(screen, D.CLOSE, "details: Close", "Back to the tokens"),
        ]


class StoreErrorCommands(_ScreenCommands):
    def commands(self) -> list[PaletteCommand]:
        from tui.screens.store_error import LegacyStoreScreen, StoreErrorScreen

        screen = self.screen
        if isinstance(screen, LegacyStoreScreen):
            L = LegacyStoreKeys
            return [
                keyed(
                    screen,
                    L.MIGRATE,
                    "store: Migrate",
                    "Convert the old-format file, keeping a backup",
                ),
                keyed(screen, L.RETRY, "store: Retry", "Read the store file again"),
                keyed(screen, L.QUIT, "app: Quit", "Quit opencode-auth-tui"),
            ]
        if isinstance(screen, StoreErrorScreen):
            E = StoreErrorKeys
            return [
                keyed(screen, E.RETRY, "store: Retry", "Read the store file again"),
                keyed(screen, E.QUIT, "app: Quit", "Quit opencode-auth-tui"),
            ]
        return []
