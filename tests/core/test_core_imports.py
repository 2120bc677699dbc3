"""core never imports the UI: importing any core module in a fresh interpreter
loads neither `textual` nor `tui`."""

from __future__ import annotations

import json
import pkgutil
import textwrap

import core
from tests.core.core_helpers import run_python

# `core.__main__` runs the CLI when imported; it only imports core.cli, which is
# checked like every other module.
NOT_IMPORTABLE = {"core.__main__"}


def core_modules() -> list[str]:
    names = ["core"]
    for info in pkgutil.walk_packages(core.__path__, "core.", onerror=lambda _name: None):
        if info.name not in NOT_IMPORTABLE:
            names.append(info.name)
    return sorted(names)


def test_core_modules_are_found() -> None:
    names = core_modules()
    for expected in (
        "core.store",
        "core.authz.decision",
        "core.authz.rules",
        "core.model.token_format",
    ):
        assert expected in names


def test_importing_core_never_loads_the_ui() -> None:
    modules = core_modules()
    code = textwrap.dedent(
        f"""
        import importlib, json, sys
        report = {{}}
        for name in {modules!r}:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                # Only the optional gateway may need a missing extra (aiohttp).
                if name.startswith("core.gateway") and exc.name and not (
                    exc.name.startswith(("core", "tui", "textual"))
                ):
                    report[name] = "skipped: needs " + exc.name
                    continue
                raise
            ui = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "tui"))
            if ui:
                report[name] = "loaded " + ", ".join(ui[:5])
                break
            report[name] = "ok"
        print(json.dumps(report))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    bad = {name: what for name, what in report.items() if what.startswith("loaded")}
    assert bad == {}
    assert set(report) == set(modules)
    skipped = {name: what for name, what in report.items() if what.startswith("skipped")}
    if skipped:
        import importlib.util

        assert importlib.util.find_spec("aiohttp") is None, skipped  # only when really absent
