"""The presets (core/authz/presets.py) held to the route policy: each passes every
row its clients need and none that it exists to keep them from.

What a client needs is what it was seen to send: `opencode attach` 1.18.33's
requests on start and when a session is opened (through the gateway, from its
access log; tests/clients/test_presets_attach.py checks them again against the
real attach), and the web app's recorded requests
(tests/clients/data/webapp-requests.json).
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import pytest

from core.authz.policy import Policy, Rule, default_policy
from core.authz.presets import PRESETS, Preset, UnknownPreset, choices, preset, preset_of
from core.model.errors import InputError
from core.model.permissions import Permission

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE
WEBAPP_REQUESTS = Path(__file__).resolve().parents[1] / "clients" / "data" / "webapp-requests.json"

ATTACH_FOLLOWS = (
    # on start
    "GET /path",
    "GET /project/current",
    "GET /experimental/capabilities",
    "GET /experimental/console",
    "GET /config",
    "GET /agent",
    "GET /project/{projectID}/directories",
    "GET /session",
    "GET /config/providers",
    "GET /provider",
    "GET /command",
    "GET /lsp",
    "GET /mcp",
    "GET /experimental/resource",
    "GET /formatter",
    "GET /session/status",
    "GET /provider/auth",
    "GET /vcs",
    "GET /experimental/workspace",
    "GET /experimental/workspace/status",
    "GET /api/location",
    "GET /api/agent",
    "GET /api/integration",
    "GET /api/model",
    "GET /api/provider",
    "GET /api/reference",
    "GET /api/command",
    "GET /api/skill",
    "GET /event",
    # a session opened (`attach -s ID`), and followed as it runs
    "GET /session/{sessionID}",
    "GET /session/{sessionID}/message",
    "GET /session/{sessionID}/todo",
    "GET /session/{sessionID}/diff",
)
"""What `opencode attach` sends to show and follow sessions."""

PROMPTS = (
    "POST /session",
    "POST /session/{sessionID}/message",
    "POST /session/{sessionID}/prompt_async",
    "POST /session/{sessionID}/command",
    "POST /session/{sessionID}/shell",
    "POST /session/{sessionID}/init",
    "POST /session/{sessionID}/fork",
    "POST /session/{sessionID}/summarize",
    "POST /api/session",
    "POST /api/session/{sessionID}/prompt",
    "POST /tui/submit-prompt",
    "POST /tui/append-prompt",
    "POST /tui/execute-command",
    "POST /permission/{requestID}/reply",
    "POST /question/{requestID}/reply",
    "POST /pty",
    "GET /pty/{ptyID}/connect",
)
"""Operations that start the agent, steer it or run something: what `watch` exists
to keep a client from."""

FILES_NEEDS = (
    "GET /file",
    "GET /file/content",
    "GET /file/status",
    "GET /find/file",
    "GET /find/symbol",
    "GET /vcs/status",
    "GET /api/fs/list",
    "GET /api/fs/read/*",
    "GET /api/fs/find",
)
"""What a file browser or dashboard asks for."""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


def rows(policy: Policy, names: tuple[str, ...]) -> list[Rule]:
    """The policy's rows by name; a name the policy lacks fails the test (no stale list)."""
    by_name = {rule.name: rule for rule in policy}
    missing = [name for name in names if name not in by_name]
    assert missing == [], f"not in the policy: {missing}"
    return [by_name[name] for name in names]


# --- the API the CLI and the TUI use ------------------------------------------------


def test_three_presets_each_a_different_set_in_canonical_order() -> None:
    assert [p.name for p in PRESETS] == ["full", "watch", "files"]
    assert [p.title for p in PRESETS] == ["full client", "watch sessions", "files and search only"]
    assert len({p.permissions for p in PRESETS}) == len(PRESETS)
    order = list(Permission)
    for p in PRESETS:
        assert list(p.permissions) == sorted(p.permissions, key=order.index)
        assert p.purpose and "\n" not in p.purpose and p.purpose == p.purpose.strip()


@pytest.mark.parametrize("given", ["watch", "WATCH", " Watch "])
def test_a_preset_by_name_in_any_case(given: str) -> None:
    assert preset(given) is PRESETS[1]


@pytest.mark.parametrize("given", ["", "rwx", "read", "watcher", "full\x1b[31m"])
def test_an_unknown_preset_is_an_input_error_naming_every_preset(given: str) -> None:
    with pytest.raises(UnknownPreset) as info:
        preset(given)
    assert isinstance(info.value, InputError)  # exit 2 in the CLI, a field error in the TUI
    message = str(info.value)
    assert "\x1b" not in message and "\n" not in message
    assert message.endswith(choices())
    for p in PRESETS:
        assert f"{p.name} ({p.title})" in message


def test_preset_of_names_exactly_the_three_sets() -> None:
    named = {}
    for size in (1, 2, 3):
        for held in combinations(list(Permission), size):
            found = preset_of(reversed(held))  # any order, as a record may hold them
            if found is not None:
                named[frozenset(held)] = found.name
    assert named == {
        frozenset({R, W, X}): "full",
        frozenset({R, X}): "watch",
        frozenset({R}): "files",
    }
    assert preset_of([]) is None


# --- held to the policy ------------------------------------------------------------


def test_full_passes_every_row_and_the_unclassified_rest(policy: Policy) -> None:
    full = preset("full")
    assert full.operations(policy) == tuple(policy)
    assert policy.classify("GET", "/a/route/no/row/names").needs == frozenset(full.permissions)


def test_watch_passes_everything_attach_needs_to_follow_sessions(policy: Policy) -> None:
    watch = preset("watch")
    refused = [rule.name for rule in rows(policy, ATTACH_FOLLOWS) if not watch.passes(rule)]
    assert refused == []


def test_watch_passes_no_row_that_prompts_or_runs_anything(policy: Policy) -> None:
    watch = preset("watch")
    passed = [rule.name for rule in rows(policy, PROMPTS) if watch.passes(rule)]
    assert passed == []
    # and, from the policy itself: it passes no row that writes, and no terminal
    for rule in watch.operations(policy):
        assert rule.method == "GET", rule.name
        assert W not in rule.needs, rule.name


def test_watch_is_every_read_but_a_terminals_keystrokes_and_the_tuis_queue(policy: Policy) -> None:
    watch = preset("watch")
    reads = {rule.name for rule in policy if rule.method == "GET"}
    passed = {rule.name for rule in watch.operations(policy)}
    # a terminal's keystrokes, and taking an attached TUI's next control request off
    # its queue (a change: the TUI never gets it)
    assert reads - passed == {
        "GET /pty/{ptyID}/connect",
        "GET /api/pty/{ptyID}/connect",
        "GET /tui/control/next",
    }


def test_files_passes_what_a_file_browser_needs(policy: Policy) -> None:
    files = preset("files")
    assert [rule.name for rule in rows(policy, FILES_NEEDS) if not files.passes(rule)] == []


def test_files_is_refused_sessions_config_events_and_searching_inside_files(
    policy: Policy,
) -> None:
    files = preset("files")
    passed = files.operations(policy)
    assert passed and all(rule.needs == {R} for rule in passed)
    sessions = [rule for rule in policy if "/session" in rule.path]
    assert len(sessions) > 40
    assert [rule.name for rule in sessions if files.passes(rule)] == []
    for name in ("GET /config", "GET /provider", "GET /event", "GET /global/event", "GET /find"):
        assert not files.passes(rows(policy, (name,))[0]), name


def test_the_web_app_viewing_sessions_needs_no_more_than_watch(policy: Policy) -> None:
    """The web app's recorded requests while it loads, lists and opens a session
    pass a watch token; prompting, a terminal or a new session need full."""
    recorded = json.loads(WEBAPP_REQUESTS.read_text())
    assert recorded["opencode"] == policy.opencode_version
    watch = preset("watch")
    viewing, acting = [], []
    for request in recorded["requests"]:
        target = re.sub(r"\{[^}]+\}", "x1", request["path"])
        needs = policy.classify(request["method"], target).needs
        assert needs is not None
        phases = set(request["phases"])
        if phases & {"first-load", "home", "session"}:
            viewing.append((request["method"], request["path"], needs))
        if phases & {"prompt", "terminal"} and request["method"] != "GET":
            acting.append((request["method"], request["path"], needs))
    assert viewing and acting
    assert [(m, p) for m, p, needs in viewing if not needs <= set(watch.permissions)] == []
    assert [(m, p) for m, p, needs in acting if needs <= set(watch.permissions)] == []
    full = set(preset("full").permissions)
    assert all(needs <= full for _, _, needs in viewing + acting)
    # a reload on a session's own URL (a web-app link no row names) needs all three:
    # the README says so of the watch preset
    (reload,) = [r for r in recorded["requests"] if r["path"].startswith("/server/")]
    assert policy.classify("GET", "/server/x1/session/x1").rule is None
    assert "reload" in reload["phases"]


def test_each_purpose_names_what_its_permissions_cannot_do() -> None:
    """The one line each preset shows must not promise more than its permissions:
    watch and files say they cannot prompt or see sessions."""
    words: dict[str, tuple[str, ...]] = {
        "full": ("prompt", "terminals", "config"),
        "watch": ("cannot start a session", "API keys"),
        "files": ("no sessions", "no config"),
    }
    for p in PRESETS:
        for word in words[p.name]:
            assert word in p.purpose, (p.name, word)


def test_presets_are_plain_values() -> None:
    watch = preset("watch")
    assert watch == Preset(watch.name, watch.title, watch.permissions, watch.purpose)
    assert hash(watch) == hash(preset("WATCH"))
