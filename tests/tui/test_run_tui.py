"""`run_tui(store)`: the entry point the CLI calls."""

from __future__ import annotations

import pytest

from tests.tui.fixtures import Sandbox
from tui import app as app_module


@pytest.mark.parametrize(("code", "expected"), [(None, 0), (0, 0), (3, 3)])
def test_run_tui_returns_the_apps_exit_code(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, code: int | None, expected: int
) -> None:
    ran: list[app_module.AuthApp] = []

    def fake_run(self: app_module.AuthApp) -> None:
        ran.append(self)
        if code is not None:
            self.exit(return_code=code)

    monkeypatch.setattr(app_module.AuthApp, "run", fake_run)
    store = sandbox.store()
    assert app_module.run_tui(store) == expected
    assert ran[0].store is store
