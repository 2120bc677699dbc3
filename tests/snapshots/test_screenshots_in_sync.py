"""The README's screenshots are the snapshot suite's pictures, not stale copies.

`screenshots/make_screenshots.py` renders the same scenarios the same way; after
`--snapshot-update`, run it again and commit both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tui.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_snapshots"
SNAPSHOT_OF = {
    "empty": "TestMainScreen.test_empty_store",
    "main": "TestMainScreen.test_populated",
    "main-wide": "TestMainScreen.test_populated_wide",
    "main-narrow": "TestMainScreen.test_populated_narrow",
    "main-scoped-wide": "TestMainScreen.test_directories_and_note_at_120",
    "read-only": "TestMainScreen.test_read_only_store",
    "details-sessions": "TestDetailsScreen.test_sessions",
    "pair-form": "TestPairing.test_form",
    "pairing": "TestPairing.test_link_and_qr_code",
    "filter": "TestMainScreen.test_filter",
    "sorted": "TestMainScreen.test_sorted_by_created",
    "create": "TestCreateScreen.test_form",
    "create-errors": "TestCreateScreen.test_validation_errors",
    "secret": "TestSecretScreen.test_secret",
    "secret-close": "TestSecretScreen.test_close_without_copying",
    "secret-copied": "TestSecretScreen.test_copied",
    "delete": "TestDeleteConfirm.test_delete",
    "rotate": "TestRotateConfirm.test_rotate",
    "rotate-custom": "TestRotateConfirm.test_custom_expiry",
    "prune": "TestPruneConfirm.test_prune",
    "details": "TestDetailsScreen.test_details",
    "details-scoped": "TestDetailsScreen.test_note_directories_and_abilities",
    "create-filled": "TestCreateScreen.test_note_and_directories",
    "edit": "TestEditScreen.test_form",
    "edit-narrow": "TestEditScreen.test_footer_at_60",
    "help": "TestHelpScreen.test_help",
    "corrupt": "TestStoreErrorScreen.test_corrupt_store",
    "legacy": "TestLegacyStoreScreen.test_migration_offered",
    "migrated": "TestLegacyStoreScreen.test_migrated",
    "migrated-table": "TestLegacyStoreScreen.test_migrated_tokens_marked",
}


def normalized(path: Path) -> str:
    return re.sub(r"\bterminal-\d+-", "terminal-", path.read_text(encoding="utf-8"))


def test_every_scenario_has_a_snapshot_and_a_screenshot() -> None:
    assert set(SNAPSHOT_OF) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SNAPSHOT_OF))
def test_screenshot_matches_snapshot(name: str) -> None:
    screenshot = ROOT / "screenshots" / f"{name}.svg"
    snapshot = SNAPSHOTS / f"{SNAPSHOT_OF[name]}.svg"
    assert normalized(screenshot) == normalized(snapshot), (
        f"{screenshot.name} is out of date: run .venv/bin/python screenshots/make_screenshots.py"
    )
