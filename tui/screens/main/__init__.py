"""The main screen, in layers (see `screen`): `MainScreen` is the one to import."""

from tui.screens.main.screen import MainScreen

__all__ = ["MainScreen"]
