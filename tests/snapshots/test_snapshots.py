"""Snapshot tests of every screen and modal (pytest-textual-snapshot).

One class per screen, as in posting's suite. The scenarios (store contents and
keys pressed) live in `tests/tui/scenarios.py`, shared with the screenshot script.
Time, secrets, the home folder, polling and cursor blinking are all pinned (see
`tests/tui/fixtures.py`), so the pictures are the same on every machine.

Update after an intended change: `.venv/bin/pytest tests/snapshots --snapshot-update`
(the SVGs are in `tests/__snapshots__/test_snapshots/`), rerun
`screenshots/make_screenshots.py`, and look at the changed SVGs before committing.
"""

from __future__ import annotations

from collections.abc import Callable

Snap = Callable[[str], bool]


class TestMainScreen:
    def test_empty_store(self, snap_scenario: Snap) -> None:
        """No store file yet: the table is replaced by how to create a token."""
        assert snap_scenario("empty")

    def test_populated(self, snap_scenario: Snap) -> None:
        """Active, expiring (warning colour), expired (error colour) and never-expiring
        tokens, and a hand-written name with an escape sequence and markup, shown
        escaped. Every column fits at 80; an expired row says `expired` once (status)."""
        assert snap_scenario("main")

    def test_populated_wide(self, snap_scenario: Snap) -> None:
        """The same store at 120 by 36: every column."""
        assert snap_scenario("main-wide")

    def test_populated_narrow(self, snap_scenario: Snap) -> None:
        """At 60 by 20: name, perms, expires and status stay (id, created and last used
        give way); the footer keeps n e d r / ? and the palette key, and fits."""
        assert snap_scenario("main-narrow")

    def test_directories_and_note_at_120(self, snap_scenario: Snap) -> None:
        """At 120 by 36 a token's directories and note have columns of their own."""
        assert snap_scenario("main-scoped-wide")

    def test_read_only_store(self, snap_scenario: Snap) -> None:
        """A store file without write permission: the header says read-only and the
        keys that change it are dimmed, before any change fails."""
        assert snap_scenario("read-only")

    def test_filter(self, snap_scenario: Snap) -> None:
        """`/` then `ag`: two of five tokens match."""
        assert snap_scenario("filter")

    def test_sorted_by_created(self, snap_scenario: Snap) -> None:
        """`s` four times: created, newest first; the header shows ▼ on created."""
        assert snap_scenario("sorted")


class TestCreateScreen:
    def test_form(self, snap_scenario: Snap) -> None:
        """All permissions on, 90 days selected, the resulting date shown."""
        assert snap_scenario("create")

    def test_validation_errors(self, snap_scenario: Snap) -> None:
        """A taken name, no permission, a zero-length custom expiry; Create refused."""
        assert snap_scenario("create-errors")

    def test_note_and_directories(self, snap_scenario: Snap) -> None:
        """A note, two directories (~/src/app and /srv/www, each with ✕), a relative
        path refused as typed with core's words, execute alone explained."""
        assert snap_scenario("create-filled")


class TestEditScreen:
    def test_form(self, snap_scenario: Snap) -> None:
        """ci-deploy's name, note, permissions and directories filled in; the expiry
        starts on "keep the current expiry"; Save, no secret."""
        assert snap_scenario("edit")

    def test_footer_at_60(self, snap_scenario: Snap) -> None:
        """At 60 by 20 the fields scroll; the buttons and the modal's own footer
        (esc Cancel, ^p palette) stay, and fit."""
        assert snap_scenario("edit-narrow")


class TestSecretScreen:
    def test_secret(self, snap_scenario: Snap) -> None:
        """The new token (from the seeded test source, not a CSPRNG), shown once."""
        assert snap_scenario("secret")

    def test_close_without_copying(self, snap_scenario: Snap) -> None:
        """Escape before copying asks first, focus on Go back."""
        assert snap_scenario("secret-close")

    def test_copied(self, snap_scenario: Snap) -> None:
        """After Copy: the outcome in place of the warning, the buttons uncovered."""
        assert snap_scenario("secret-copied")


class TestDeleteConfirm:
    def test_delete(self, snap_scenario: Snap) -> None:
        assert snap_scenario("delete")


class TestRotateConfirm:
    def test_rotate(self, snap_scenario: Snap) -> None:
        """The token named, focus on Cancel; the new expiry starts at its lifetime."""
        assert snap_scenario("rotate")

    def test_custom_expiry(self, snap_scenario: Snap) -> None:
        """The create form's expiry choices: a custom date, checked as typed."""
        assert snap_scenario("rotate-custom")


class TestPruneConfirm:
    def test_prune(self, snap_scenario: Snap) -> None:
        """The expired token named, the expiring one not; focus on Cancel."""
        assert snap_scenario("prune")


class TestDetailsScreen:
    def test_details(self, snap_scenario: Snap) -> None:
        """At 80 by 24 the rows scroll (the scrollbar shows it); the buttons stay."""
        assert snap_scenario("details")

    def test_note_directories_and_abilities(self, snap_scenario: Snap) -> None:
        """The note, the directories (~ for the home folder), and in words what the
        token can and cannot do on opencode (core.present)."""
        assert snap_scenario("details-scoped")

    def test_sessions(self, snap_scenario: Snap) -> None:
        """Two browsers signed in as the token: when, from where, which browser, and
        how (the login page, a pairing link); `l` ends them all."""
        assert snap_scenario("details-sessions")


class TestHelpScreen:
    def test_help(self, snap_scenario: Snap) -> None:
        assert snap_scenario("help")


class TestStoreErrorScreen:
    def test_corrupt_store(self, snap_scenario: Snap) -> None:
        """A truncated file: path, problem, how to fix; nothing written."""
        assert snap_scenario("corrupt")


class TestLegacyStoreScreen:
    def test_migration_offered(self, snap_scenario: Snap) -> None:
        assert snap_scenario("legacy")

    def test_migrated(self, snap_scenario: Snap) -> None:
        """After confirming: the backup path, then the main screen."""
        assert snap_scenario("migrated")

    def test_migrated_tokens_marked(self, snap_scenario: Snap) -> None:
        """Continue: the table, each migrated secret marked (legacy) until rotated."""
        assert snap_scenario("migrated-table")


class TestPairing:
    def test_form(self, snap_scenario: Snap) -> None:
        """`P`: the gateway's address above the create form's fields, the link it
        will make shown as typed; the name and expiry default to device-N, 30 days."""
        assert snap_scenario("pair-form")

    def test_link_and_qr_code(self, snap_scenario: Snap) -> None:
        """The one-time link and its QR code at 80 by 24: the text on the left, the
        code on the right, inside the border; no secret anywhere."""
        assert snap_scenario("pairing")
