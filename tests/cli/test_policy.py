"""`policy [--json | --markdown | --diff OPENAPI_JSON]`: the route policy as a table,
as JSON, and what a newer opencode's API needs decided."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
SAVED_DOC = ROOT / "tests" / "data" / "opencode-1.18.33-openapi.json"


def test_policy_prints_every_operation(cli: Cli) -> None:
    result = cli("policy")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("The route policy for opencode 1.18.33 (206 operations)")
    row = next(line for line in lines if line.startswith("GET    /config/providers"))
    assert "read+execute" in row and "API keys" in row
    assert "unclassified" in lines[-2]
    assert lines[-1].endswith("opencode-auth-tui policy --presets")


def test_policy_json(cli: Cli) -> None:
    data = json.loads(cli("policy", "--json").out)
    assert data["opencode"] == "1.18.33"
    assert len(data["operations"]) == 206
    assert {"method", "path", "needs", "directory", "reason"} <= set(data["operations"][0])


def test_policy_diff_lists_what_needs_a_decision(cli: Cli, tmp_path: Path) -> None:
    same = cli("policy", "--diff", str(SAVED_DOC))
    assert same.code == 0 and "nothing to decide" in same.out
    doc = json.loads(SAVED_DOC.read_text())
    doc["paths"]["/brand/new"] = {"post": {"parameters": []}}
    del doc["paths"]["/log"]
    doc["paths"]["/file/content"]["get"]["parameters"].append(
        {"name": "root", "in": "query", "schema": {"type": "string"}}
    )
    newer = tmp_path / "doc.json"
    newer.write_text(json.dumps(doc))
    result = cli("policy", "--diff", str(newer))
    assert result.code == 1
    assert "new, needs a row:    POST /brand/new" in result.out
    assert "gone, remove the row: POST /log" in result.out
    assert "GET /file/content: query parameters changed (added root" in result.out
    as_json = json.loads(cli("policy", "--diff", str(newer), "--json").out)
    assert len(as_json["missing"]) == 1 and as_json["stale"] == ["POST /log"]


def test_policy_diff_of_a_bad_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    for path in (str(bad), str(tmp_path / "missing.json")):
        result = cli("policy", "--diff", path)
        assert result.code == 2 and len(result.err_lines) == 1, result.err


def test_markdown_is_the_docs_table(cli: Cli) -> None:
    """docs/permissions.md's table (linked from the README) is this output."""
    result = cli("policy", "--markdown")
    assert result.code == 0
    page = (ROOT / "docs" / "permissions.md").read_text()
    assert result.out in page and result.out.startswith("| a token with |")
