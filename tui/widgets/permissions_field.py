"""A token's permissions, chosen in a form: a preset by what the client is for, or
the three boxes.

Three permissions make seven sets and most are no use to any client (write
alone only writes a log line), so the form offers core's named presets
(`core.authz.presets`: full client, watch sessions, files and search only),
each saying what it is for. Picking one ticks its boxes; ticking boxes picks
the preset they make, or "custom". The line under the boxes says what the set
is for - the preset's purpose, or for a custom set what it can do on opencode
(`core.present.abilities`, from the route policy) - never a rule of thumb.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Checkbox, Select, Static

from core.authz.presets import PRESETS, preset, preset_of
from core.model.permissions import Permission, canonical, passes_nothing
from core.present import abilities, permission_letters
from tui.widgets.dialog_select import DialogSelect

CUSTOM = "custom"
PRESET_CHOICES: tuple[tuple[str, str], ...] = (
    *((f"{p.title} ({permission_letters(p.permissions)})", p.name) for p in PRESETS),
    ("custom: the boxes below", CUSTOM),
)


def purpose_text(permissions: tuple[Permission, ...]) -> str:
    """What a set of permissions is for: its preset's purpose, or what it can do."""
    named = preset_of(permissions)
    if named is not None:
        return f"{named.title}: {named.purpose}."
    can = "; ".join(abilities(permissions).can) or "nothing"
    return f"custom: can {can}."


class PermissionBox(Checkbox):
    """A checkbox drawn `[x] read` / `[ ] read`: both states legible, without colour
    too (NO_COLOR, monochrome). Textual draws an X for both states on a dark
    block, told apart by colour only, and an unticked box nearly vanishes."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble(("[", style), ("x" if self.value else " ", style), ("]", style))


class PermissionsField(Vertical):
    """The preset selector, the three boxes and the line that says what they allow."""

    DEFAULT_CSS = """
    PermissionsField {
        height: auto;
    }
    """

    def __init__(self, *, initial: tuple[Permission, ...]) -> None:
        super().__init__()
        self._initial = canonical(initial)

    def compose(self) -> ComposeResult:
        named = preset_of(self._initial)
        with Horizontal(classes="field"):
            yield Static("Preset", classes="field-label")
            yield DialogSelect(
                PRESET_CHOICES,
                value=named.name if named is not None else CUSTOM,
                allow_blank=False,
                id="preset",
                compact=True,
            )
        with Horizontal(classes="field"):
            yield Static("Permissions", classes="field-label")
            with Horizontal(id="permissions"):
                held = set(self._initial)
                for permission in Permission:
                    yield PermissionBox(
                        permission.value,
                        permission in held,
                        id=f"perm-{permission.value}",
                        compact=True,
                    )
        yield Static(id="permissions-feedback", classes="feedback")

    def on_mount(self) -> None:
        self.check()

    # --- the value -----------------------------------------------------------------

    @property
    def permissions(self) -> tuple[Permission, ...]:
        return tuple(p for p in Permission if self.query_one(f"#perm-{p.value}", Checkbox).value)

    @property
    def problem_widget(self) -> Checkbox:
        return self.query_one("#perm-read", Checkbox)

    # --- the preset and the boxes, kept in step ----------------------------------------

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value == CUSTOM or event.value is Select.BLANK:
            return  # the boxes stay as they are, for the user to tick
        chosen = set(preset(str(event.value)).permissions)
        for permission in Permission:
            # Each box's Changed arrives after all three are set: by then the boxes
            # make this preset, so the selector is not moved again.
            self.query_one(f"#perm-{permission.value}", Checkbox).value = permission in chosen
        self.check()

    @on(Checkbox.Changed)
    def _box_changed(self) -> None:
        named = preset_of(self.permissions) if self.permissions else None
        selector: Select[str] = self.query_one("#preset", Select)
        wanted = named.name if named is not None else CUSTOM
        if selector.value != wanted:
            selector.value = wanted
        self.check()

    # --- the line under the boxes --------------------------------------------------------

    def check(self) -> str | None:
        """Say what the chosen set allows; the problem (none chosen), or None."""
        chosen = self.permissions
        feedback = self.query_one("#permissions-feedback", Static)
        problem = None if chosen else "choose at least one permission"
        useless = passes_nothing(chosen) if chosen else None
        feedback.set_class(problem is not None, "-problem")
        feedback.set_class(useless is not None, "-warning")
        if problem is not None:
            feedback.update(Content.assemble(("✗ ", "bold"), problem))
        elif useless is not None:
            # Allowed (as by the CLI, which warns), but the user is told.
            sentence = useless[0].upper() + useless[1:] + "."
            feedback.update(Content.assemble(("⚠ ", "bold"), sentence))
        else:
            feedback.update(Content(purpose_text(chosen)))
        return problem
