"""Named permission sets for opencode's real clients, defined once for the CLI
(`--preset NAME`, `policy --presets`) and the TUI's forms.

Three permissions make seven sets, and most of them are no use to any client:
`write` alone only writes a log line and runs `git init`, and `opencode attach`
needs `execute` before it shows anything (it reads the config and the provider
list). So a person picks by what the client is for, not by letter:

    full   rwx  full client: attach and prompt, the web app, the SDK
    watch  r-x  watch sessions: attach and follow, never prompt or run a command
    files  r--  files and search only: the project's files, by name, and git status

What each one lets a client do is the route policy's answer (`passes`,
`operations`), never a list kept here; tests/core/test_core_presets.py holds each
preset to the policy rows its clients need and must not reach, and
tests/clients/test_presets_attach.py and tests/gateway/test_presets_real.py to a
real opencode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.model.errors import InvalidPermissions
from core.model.permissions import Permission, canonical
from core.model.text import escape_controls

if TYPE_CHECKING:  # the policy is read only when a preset's operations are asked for:
    # every CLI start names the presets in its help, and most never need the policy
    from core.authz.policy import Policy, Rule

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE


@dataclass(frozen=True)
class Preset:
    name: str
    """How the command line spells it (`--preset watch`)."""
    title: str
    """What a form or a table calls it ("watch sessions")."""
    permissions: tuple[Permission, ...]
    """In canonical order (read, write, execute)."""
    purpose: str
    """One line: which clients it is for, what they can and cannot do."""

    def passes(self, rule: Rule) -> bool:
        """Whether a token with this preset's permissions passes `rule`'s row."""
        return rule.needs <= set(self.permissions)

    def operations(self, policy: Policy | None = None) -> tuple[Rule, ...]:
        """The policy's rows this preset passes (the shipped policy by default)."""
        from core.authz.policy import default_policy

        return tuple(rule for rule in policy or default_policy() if self.passes(rule))


PRESETS: tuple[Preset, ...] = (
    Preset(
        "full",
        "full client",
        (R, W, X),
        "opencode attach, the web app and the SDK, doing all that opencode's password "
        "allows: prompt the agent, run commands and terminals, change the config",
    ),
    Preset(
        "watch",
        "watch sessions",
        (R, X),
        "follow sessions in opencode attach or the web app as they run; cannot start a "
        "session, prompt the agent or run a command or terminal (it can read the config, API "
        "keys included, and asking for the MCP servers or tools starts the config's own)",
    ),
    Preset(
        "files",
        "files and search only",
        (R,),
        "a dashboard or file browser: list, read and find the project's files by name, git "
        "status; no sessions, no config, no searching inside files",
    ),
)


class UnknownPreset(InvalidPermissions):
    """A `--preset` (or form choice) that names none of PRESETS."""


def choices() -> str:
    """`full (full client), watch (watch sessions) or files (files and search only)`."""
    named = [f"{p.name} ({p.title})" for p in PRESETS]
    return ", ".join(named[:-1]) + " or " + named[-1]


def preset(name: str) -> Preset:
    """The preset called `name` (any case, spaces around it ignored), or UnknownPreset."""
    wanted = name.strip().lower()
    for candidate in PRESETS:
        if candidate.name == wanted:
            return candidate
    shown = escape_controls(name.strip()[:40]) or "(empty)"
    raise UnknownPreset(f"unknown preset '{shown}': choose {choices()}")


def preset_of(permissions: Iterable[Permission]) -> Preset | None:
    """The preset with exactly these permissions, or None (say, write alone)."""
    held = canonical(permissions)
    return next((p for p in PRESETS if p.permissions == held), None)
