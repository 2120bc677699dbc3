"""A token's directories, chosen in a form: none (every directory the server
serves) or a list of absolute paths.

A text field takes one path at a time: `enter` adds it to the list under the
field, `~` stands for the home folder, and a relative path is taken from the
current folder - as the CLI takes `--directory` - and shown as the absolute
path it stands for. A path core refuses (NUL, control characters) is marked as
you type, with core's own words (`clean_directories`); one that does not exist
(yet) is a warning only, as the project may come later. A paste of several
lines adds each line core accepts and names each one it refuses. Each added path
has a `✕` button that removes it. A path typed but not yet added counts too, so
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
from core.present import counted, shorten
from core.store import clean_directories
from tui.widgets.text_field import TextField, paste_text

ALL_DIRECTORIES = "None: every directory the server serves."
REJECTED_SHOWN = 4  # pasted lines named one by one; the rest are counted


def expand_home(text: str, home: Path | None) -> str:
    """`~` and `~/...` with the app's home folder; `~user/...` as the system has it."""
    text = text.strip()
    if home is not None and (text == "~" or text.startswith("~/")):
        return str(home).rstrip("/") + text[1:] if text != "~" else str(home)
    if text.startswith("~"):
        return os.path.expanduser(text)
    return text


def resolve(text: str, home: Path | None, cwd: Path) -> str:
    """The absolute path `text` stands for: `~` expanded, a relative path taken from
    `cwd`, `.` and `..` resolved (as the CLI's `--directory`); "" for blank text."""
    expanded = expand_home(text, home)
    if not expanded:
        return ""
    return os.path.normpath(os.path.join(str(cwd), expanded))


def is_relative(text: str, home: Path | None) -> bool:
    expanded = expand_home(text, home)
    return bool(expanded) and not expanded.startswith("/")


def directory_problem(text: str, home: Path | None, cwd: Path) -> str | None:
    """Why `text` cannot be one of a token's directories (core's words), or None."""
    try:
        clean_directories([resolve(text, home, cwd)])
    except InvalidDirectory as exc:
        # core's words, less its "directory: " (the field says which it is)
        return exc.message.removeprefix("directory: ")
    return None


def exists(directory: str) -> bool:
    """Whether the directory is there on this machine (a warning when not: a token
    may be made before its project is cloned)."""
    return os.path.isdir(directory)


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
        self,
        *,
        initial: tuple[str, ...] = (),
        home: Path | None,
        cwd: Path,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self._directories: list[str] = list(initial)
        self._home = home
        self._cwd = cwd
        self._cursor_blink = cursor_blink
        # pasted lines core refused, and why: named under the field until it changes
        self._rejected: list[tuple[str, str]] = []

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
        if self.pending.strip() and self._problem(self.pending) is None:
            chosen.append(self._resolve(self.pending))
        return clean_directories(chosen)

    @property
    def state(self) -> tuple[tuple[str, ...], str]:
        """What the user has done here (the paths added, the text typed): a form
        asks before dropping a change."""
        return tuple(self._directories), self.pending

    @property
    def problem_widget(self) -> Input:
        return self.query_one("#directory", Input)

    def shown(self, directory: str) -> str:
        return escape_controls(shorten(directory, self._home))

    def _resolve(self, text: str) -> str:
        return resolve(text, self._home, self._cwd)

    def _problem(self, text: str) -> str | None:
        return directory_problem(text, self._home, self._cwd)

    # --- checks --------------------------------------------------------------------

    def check(self) -> str | None:
        """Check the typed path; show the outcome under the field; the problem or None."""
        field = self.query_one("#directory", Input)
        feedback = self.query_one("#directories-feedback", Static)
        typed = field.value.strip()
        problem = self._problem(field.value) if typed else None
        field.set_class(problem is not None, "-invalid")
        warning = False
        if problem is not None:
            text = Content.assemble(("✗ ", "bold"), problem)
        elif typed:
            text, warning = self._typed_words(field.value)
        elif self._rejected:
            text = self._rejected_words()
        elif not self._directories:
            text = Content(ALL_DIRECTORIES)
        else:
            noun = "this directory" if len(self._directories) == 1 else "these"
            text = Content(f"Only inside {noun} (✕ removes one):")
        feedback.set_class(problem is not None or bool(self._rejected and not typed), "-problem")
        feedback.set_class(warning, "-warning")
        feedback.update(text)
        return problem

    def _typed_words(self, typed: str) -> tuple[Content, bool]:
        """What enter would add: the absolute path if it was relative, and a
        warning if it does not exist (then True)."""
        directory = self._resolve(typed)
        shown = self.shown(directory)
        if is_relative(typed, self._home):
            shown += " (taken from the current folder)"
        if not exists(directory):
            words = f"{shown} does not exist (yet); enter adds it all the same."
            return Content.assemble(("⚠ ", "bold"), words), True
        if is_relative(typed, self._home):
            return Content(f"enter adds {shown}."), False
        return Content("enter adds it."), False

    def _rejected_words(self) -> Content:
        """Each pasted line that was not added, and why (the first few)."""
        count = len(self._rejected)
        head = f"{counted(count, 'pasted line')} not added:"
        lines = [Content.assemble(("✗ ", "bold"), head)]
        for line, problem in self._rejected[:REJECTED_SHOWN]:
            lines.append(Content(f"  '{escape_controls(line)}': {problem}"))
        if count > REJECTED_SHOWN:
            lines.append(Content(f"  and {count - REJECTED_SHOWN} more"))
        return Content("\n").join(lines)

    # --- adding and removing -------------------------------------------------------

    async def add(self, text: str) -> str | None:
        """Add one path; the problem if core refuses it (then nothing is added)."""
        if not text.strip():
            return None
        problem = self._problem(text)
        if problem is not None:
            return problem
        (directory,) = clean_directories([self._resolve(text)])
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
        """Add every line core accepts; name each one it refuses, and why."""
        message.stop()
        rejected = []
        for line in message.lines:
            problem = await self.add(line)
            if problem is not None:
                rejected.append((line.strip(), problem))
        field = self.query_one("#directory", Input)
        field.value = ""  # an empty field's Changed keeps the lines named below
        self._rejected = rejected
        self.check()

    @on(Input.Changed, "#directory")
    def _changed(self) -> None:
        # Typing replaces what a paste could not add (a form listens for the change too).
        if self.pending:
            self._rejected = []
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

    def _listed(self, directory: str) -> Content:
        if exists(directory):
            return Content(self.shown(directory))
        return Content.assemble(
            self.shown(directory), ("  ⚠ does not exist (yet)", "$text-warning")
        )

    async def _show_list(self) -> None:
        listing = self.query_one("#directory-list", Vertical)
        await listing.remove_children()
        rows = []
        for index, directory in enumerate(self._directories):
            rows.append(
                Horizontal(
                    Static("", classes="field-label"),
                    Static(self._listed(directory), classes="directory-path"),
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
