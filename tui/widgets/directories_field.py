"""A token's directories, chosen in a form: none (every directory the server
serves) or a list of absolute paths.

A text field takes one path at a time: `enter` adds it to the list under the
field (a paste of several lines adds each line), `~` stands for the home
folder, and a path core refuses (relative, NUL, `.`/`..` segments) is marked
as you type, with core's own words (`clean_directories`). Each added path has
a `✕` button that removes it. A path typed but not yet added counts too, so
Create or Save never drops it.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Static

from core.model.errors import InvalidDirectory
from core.model.text import escape_controls
from core.present import shorten
from core.store import clean_directories
from tui.widgets.text_field import TextField, paste_text

ALL_DIRECTORIES = "None: every directory the server serves."


def expand_home(text: str, home: Path | None) -> str:
    """`~` and `~/...` with the app's home folder; `~user/...` as the system has it."""
    text = text.strip()
    if home is not None and (text == "~" or text.startswith("~/")):
        return str(home).rstrip("/") + text[1:] if text != "~" else str(home)
    if text.startswith("~"):
        return os.path.expanduser(text)
    return text


def directory_problem(text: str, home: Path | None) -> str | None:
    """Why `text` cannot be one of a token's directories (core's words), or None."""
    try:
        clean_directories([expand_home(text, home)])
    except InvalidDirectory as exc:
        # core's words, less its "directory: " (the field says which it is)
        return exc.message.removeprefix("directory: ")
    return None


class DirectoryInput(TextField):
    """The path field: a paste of several lines is several paths."""

    class PastedLines(Message):
        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    def _on_paste(self, event: events.Paste) -> None:
        text = paste_text(event.text)
        lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        if len(lines) > 1:
            event.stop()
            event.prevent_default()
            self.post_message(self.PastedLines([line for line in lines if line.strip()]))
            return
        super()._on_paste(event)


class DirectoriesField(Vertical):
    """The directories of a token being created or edited (see the module docstring)."""

    DEFAULT_CSS = """
    DirectoriesField {
        height: auto;
    }
    """

    def __init__(
        self, *, initial: tuple[str, ...] = (), home: Path | None, cursor_blink: bool = True
    ) -> None:
        super().__init__()
        self._directories: list[str] = list(initial)
        self._home = home
        self._cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Static("Directories", classes="field-label")
            field = DirectoryInput(
                placeholder="a path such as ~/src/app; enter adds it",
                id="directory",
                compact=True,
            )
            field.cursor_blink = self._cursor_blink
            yield field
        yield Static(id="directories-feedback", classes="feedback")
        yield Vertical(id="directory-list")

    async def on_mount(self) -> None:
        await self._show_list()
        self.check()

    # --- the value -----------------------------------------------------------------

    @property
    def pending(self) -> str:
        return self.query_one("#directory", Input).value

    @property
    def directories(self) -> tuple[str, ...]:
        """The directories as core takes them: those added, and a valid path typed."""
        chosen = list(self._directories)
        if self.pending.strip() and directory_problem(self.pending, self._home) is None:
            chosen.append(expand_home(self.pending, self._home))
        return clean_directories(chosen)

    @property
    def problem_widget(self) -> Input:
        return self.query_one("#directory", Input)

    def shown(self, directory: str) -> str:
        return escape_controls(shorten(directory, self._home))

    # --- checks --------------------------------------------------------------------

    def check(self) -> str | None:
        """Check the typed path; show the outcome under the field; the problem or None."""
        field = self.query_one("#directory", Input)
        feedback = self.query_one("#directories-feedback", Static)
        problem = directory_problem(field.value, self._home) if field.value.strip() else None
        field.set_class(problem is not None, "-invalid")
        feedback.set_class(problem is not None, "-problem")
        if problem is not None:
            feedback.update(Content.assemble(("✗ ", "bold"), problem))
        elif field.value.strip():
            feedback.update(Content("enter adds it."))
        elif not self._directories:
            feedback.update(Content(ALL_DIRECTORIES))
        else:
            noun = "this directory" if len(self._directories) == 1 else "these"
            feedback.update(Content(f"Only inside {noun} (✕ removes one):"))
        return problem

    # --- adding and removing -------------------------------------------------------

    async def add(self, text: str) -> str | None:
        """Add one path; the problem if core refuses it (then nothing is added)."""
        if not text.strip():
            return None
        problem = directory_problem(text, self._home)
        if problem is not None:
            return problem
        (directory,) = clean_directories([expand_home(text, self._home)])
        if directory not in self._directories:
            self._directories.append(directory)
            await self._show_list()
        return None

    @on(Input.Submitted, "#directory")
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # enter here adds the path; it does not submit the form
        field = self.query_one("#directory", Input)
        if await self.add(field.value) is None:
            field.value = ""
        self.check()

    @on(DirectoryInput.PastedLines)
    async def _pasted_lines(self, message: DirectoryInput.PastedLines) -> None:
        message.stop()
        field = self.query_one("#directory", Input)
        for index, line in enumerate(message.lines):
            if await self.add(line) is not None:
                field.value = "\n".join(message.lines[index:])  # what could not be added
                break
        else:
            field.value = ""
        self.check()

    @on(Input.Changed, "#directory")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.check()

    @on(Button.Pressed, ".remove-directory")
    async def _remove(self, event: Button.Pressed) -> None:
        event.stop()
        index = int((event.button.id or "-").rsplit("-", 1)[-1])
        if 0 <= index < len(self._directories):
            del self._directories[index]
            await self._show_list()
            self.check()
            self.query_one("#directory", Input).focus()

    async def _show_list(self) -> None:
        listing = self.query_one("#directory-list", Vertical)
        await listing.remove_children()
        rows = []
        for index, directory in enumerate(self._directories):
            rows.append(
                Horizontal(
                    Static("", classes="field-label"),
                    Static(Content(self.shown(directory)), classes="directory-path"),
                    Button(
                        "✕",
                        id=f"remove-directory-{index}",
                        classes="remove-directory",
                        compact=True,
                        tooltip=f"Remove {self.shown(directory)}",
                    ),
                    classes="directory-row",
                )
            )
        if rows:
            await listing.mount_all(rows)
