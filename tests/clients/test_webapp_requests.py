"""Every request the web app was recorded making (data/webapp-requests.json, made by
record_webapp_requests.py from a real walk) is named by the route policy and allowed
for a read+write+execute token in the directory the gateway serves.

No browser and no opencode: the recorded rows are decided by core alone, as the
gateway decides them. A new opencode whose app makes a request the policy does not
know shows up here first (re-record, then classify it in core/authz/opencode_policy.json).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.policy import UNCLASSIFIED, DirectoryFrom, default_policy
from core.authz.scope import Root, ServerScope, SessionDirectory
from core.store import StoreReader, TokenStore
from tests.clients import record_webapp_requests

RECORDED = json.loads(record_webapp_requests.OUT.read_text())
ROWS: list[dict[str, Any]] = RECORDED["requests"]

# Sample values for the recorded templates' placeholders.
SAMPLES = {
    "sessionID": "ses_0123456789abcdefABCDEFGHIJ",
    "messageID": "msg_0123456789abcdefABCDEFGHIJ",
    "partID": "prt_0123456789abcdefABCDEFGHIJ",
    "ptyID": "pty_0123456789abcdefABCDEFGHIJ",
    "projectID": "0123456789abcdef0123456789abcdef01234567",
    "file": "index-0123abcd.js",
    # the app's own URLs carry base64url keys (a server URL, a directory)
    "serverKey": "aHR0cDovLzEyNy4wLjAuMTo0MDk3",
    "directoryKey": "L3Nydi9wcm9qZWN0",
}

# The app's own page URLs - what opencode's catch-all answers with index.html when a
# page is loaded afresh (a reload, a bookmark). The policy names no row for them on
# purpose: a path no row names needs all three permissions (an operation opencode
# added later must not pass as a static file), so only an rwx token can reload a
# session's page.
APP_PAGES = {("GET", "/server/{serverKey}/session/{sessionID}")}


def _sample(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), m.group(1)), template)


def _target(row: dict[str, Any], project: str) -> str:
    """The row's path with sample ids, and its directory parameters naming `project`."""
    query = {}
    for name in row["query"]:
        if name in ("directory", "location[directory]"):
            query[name] = project
    target = _sample(row["path"])
    return target + ("?" + urllib.parse.urlencode(query) if query else "")


def _id(row: dict[str, Any]) -> str:
    return f"{row['method']} {row['path']}"


@pytest.fixture(scope="module")
def decide(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Decide a recorded row as the gateway would, with an rwx token, serving only
    opencode's own directory (the gateway's default scope)."""
    folder = tmp_path_factory.mktemp("policy")
    project = folder / "project"
    project.mkdir()
    store = TokenStore(folder / "auth-tokens.json")
    token = store.create(name="full", permissions="read,write,execute").secret.reveal()
    authorizer = CachedAuthorizer(
        StoreReader(store.path),
        scope=ServerScope((Root.of(str(project)),), str(project)),
    )

    def run(row: dict[str, Any], directory: str | None = None) -> Any:
        where = directory or str(project)
        headers = {}
        if "x-opencode-directory" in row["headers"]:
            headers["x-opencode-directory"] = (urllib.parse.quote(where, safe=""),)
        return authorizer.decide(
            f"Bearer {token}",
            row["method"],
            _target(row, where),
            headers=lambda name: headers.get(name, ()),
            sessions=lambda _sid: SessionDirectory(str(project)),
        )

    run.project = str(project)  # type: ignore[attr-defined]
    return run


def test_the_recording_is_of_this_policys_opencode() -> None:
    assert RECORDED["opencode"] == default_policy().opencode_version
    assert len(ROWS) > 30


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_every_recorded_request_is_classified(row: dict[str, Any]) -> None:
    classified = default_policy().classify(row["method"], _sample(row["path"]))
    if (row["method"], row["path"]) in APP_PAGES:
        assert classified.rule_name == UNCLASSIFIED
        return
    assert classified.rule_name != UNCLASSIFIED
    assert classified.rule is not None
    # The rows the recorder found in GET /doc are documented operations; the others
    # are the app's static files.
    static = classified.rule.directory is DirectoryFrom.WEBAPP
    assert static is (not row["documented"])


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_every_recorded_request_is_allowed_for_a_full_token(
    row: dict[str, Any], decide: Any
) -> None:
    decision = decide(row)
    assert decision.allowed, (decision.reason, decision.message)
    if (row["method"], row["path"]) not in APP_PAGES:
        assert decision.rule != UNCLASSIFIED


def test_the_add_project_dialog_sees_only_the_served_directories(decide: Any) -> None:
    """The "Add project" dialog browses the HOME opencode reports; the gateway serves
    opencode's own directory unless told more (--directory, --any-directory), so those
    requests are refused, in words."""
    home = str(Path(decide.project).parent)
    browsing = [row for row in ROWS if "{home}" in row["directories"]]
    assert browsing
    for row in browsing:
        decision = decide(row, directory=home)
        assert (decision.status, decision.reason.value) == (403, "directory_not_allowed")
        assert decision.message
