"""The opencode route policy: one row per operation of opencode 1.18.33's OpenAPI
document, never looser than the PR #8217 rule, matched the way opencode routes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.authz.policy import (
    POLICY_FILE,
    UNCLASSIFIED,
    DirectoryFrom,
    Policy,
    PolicyError,
    default_policy,
)
from core.authz.rules import required_permissions
from core.model.permissions import Permission

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE
DOC = Path(__file__).resolve().parents[1] / "data" / "opencode-1.18.33-openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")


def documented_operations() -> set[tuple[str, str]]:
    doc = json.loads(DOC.read_text())
    return {(m.upper(), path) for path, item in doc["paths"].items() for m in item if m in METHODS}


def sample(template: str, value: str = "sample1") -> str:
    return re.sub(r"\{[^}]+\}", value, template).replace("*", "notes/readme.md")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


def test_the_saved_document_is_opencode_1_18_33() -> None:
    doc = json.loads(DOC.read_text())
    assert doc["info"]["title"] == "opencode"
    assert len(documented_operations()) == 188


def test_every_documented_operation_is_classified_exactly_once(policy: Policy) -> None:
    documented = {(r.method, r.path) for r in policy if r.documented}
    operations = documented_operations()
    assert operations - documented == set(), "missing from the policy"
    assert documented - operations == set(), "stale: not in opencode's document"
    # _check refuses duplicates; the file really has one row per operation
    assert len([r for r in policy if r.documented]) == len(operations)


def test_the_policy_was_made_for_the_saved_version(policy: Policy) -> None:
    assert policy.opencode_version == "1.18.33"


@pytest.mark.parametrize("value", ["sample1", "session", "pty", "message"])
def test_never_looser_than_the_pr_8217_rule(policy: Policy, value: str) -> None:
    """For every operation, with parameters that themselves contain the markers."""
    for rule in policy:
        for method in (rule.method, "HEAD") if rule.method == "GET" else (rule.method,):
            path = sample(rule.path, value)
            floor = required_permissions(method, path)
            classified = policy.classify(method, path)
            assert floor is not None and classified.needs is not None
            assert floor <= classified.needs, f"{method} {path}"
            assert floor <= rule.needs or value != "sample1", rule.name


def test_the_execute_class_holds_what_spec_names(policy: Policy) -> None:
    """SPEC, "The opencode policy": changing what runs or which credentials are
    used, running or steering, and reads that reveal credentials or session
    content all need execute."""
    must_execute = [
        ("PATCH", "/config"),
        ("PATCH", "/global/config"),
        ("GET", "/config"),
        ("GET", "/global/config"),
        ("GET", "/config/providers"),
        ("GET", "/provider"),
        ("POST", "/mcp"),
        ("POST", "/mcp/{name}/connect"),
        ("PATCH", "/project/{projectID}"),
        ("POST", "/experimental/worktree"),
        ("DELETE", "/experimental/worktree"),
        ("POST", "/experimental/workspace"),
        ("POST", "/vcs/apply"),
        ("POST", "/instance/dispose"),
        ("POST", "/global/dispose"),
        ("POST", "/global/upgrade"),
        ("PUT", "/auth/{providerID}"),
        ("DELETE", "/auth/{providerID}"),
        ("POST", "/provider/{providerID}/oauth/authorize"),
        ("POST", "/permission/{requestID}/reply"),
        ("POST", "/question/{requestID}/reply"),
        ("GET", "/event"),
        ("GET", "/global/event"),
        ("GET", "/api/event"),
        ("POST", "/pty/{ptyID}/connect-token"),
    ]
    for method, path in must_execute:
        rule = next(r for r in policy if (r.method, r.path) == (method, path))
        assert X in rule.needs, rule.name
    prefixes = ("/tui/", "/api/credential", "/api/integration", "/pty", "/api/pty", "/sync/")
    for rule in policy:
        if rule.path.startswith(prefixes) or "/session" in rule.path:
            assert X in rule.needs, rule.name


def test_what_a_read_token_can_do_is_only_looking(policy: Policy) -> None:
    """The read class has only GETs, none of which is an event stream, a session,
    a PTY, a config or a credential listing."""
    read_only = [r for r in policy if r.needs == {R}]
    assert read_only and all(r.method == "GET" for r in read_only)
    forbidden = re.compile(r"event|session|pty|config|auth$|provider$|credential|integration")
    for rule in read_only:
        assert not forbidden.search(rule.path) or rule.path == "/provider/auth", rule.name


def test_write_alone_changes_nothing_that_runs(policy: Policy) -> None:
    assert sorted(r.name for r in policy if r.needs == {W}) == [
        "POST /log",
        "POST /project/git/init",
    ]


def test_counts(policy: Policy) -> None:
    assert sum(policy.counts().values()) == len(policy)
    assert policy.counts()["read"] == len([r for r in policy if r.needs == {R}])


# --- matching the way opencode routes ---------------------------------------------------


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("/path", "GET /path"),
        ("/PATH", "GET /path"),
        ("/Path/", "GET /path"),
        ("/path;x", "GET /path"),
        ("/pa%74h", "GET /path"),
        ("//path", "GET /path"),
        ("/path?x=1", "GET /path"),
        ("/config;a/providers", "GET /config"),
        ("/config/providers;x", "GET /config/providers"),
        ("/CONFIG/PROVIDERS", "GET /config/providers"),
        ("/session/status", "GET /session/status"),
        ("/session/ses_1", "GET /session/{sessionID}"),
        ("/Session/ses_1/MESSAGE", "GET /session/{sessionID}/message"),
        ("/api/fs/read/a/b.txt", "GET /api/fs/read/*"),
        ("http://host:4096/path", "GET /path"),
        ("/", "GET /"),
        ("/assets/index-x.js", "GET /assets/*"),
        # what opencode's router does not take (it serves the web app for them)
        ("/path%2F", UNCLASSIFIED),
        ("/./path", UNCLASSIFIED),
        ("/x/../path", UNCLASSIFIED),
        ("/%2573ession", UNCLASSIFIED),
        ("/%zz", UNCLASSIFIED),
        ("/session/" + "a" * 101, UNCLASSIFIED),
        ("/L3RtcC9wcm9qZWN0/session/ses_1", UNCLASSIFIED),
    ],
)
def test_requests_reach_the_row_opencode_would_run(policy: Policy, target: str, rule: str) -> None:
    assert policy.classify("GET", target).rule_name == rule


def test_parameters_are_read_as_opencode_reads_them(policy: Policy) -> None:
    assert policy.classify("GET", "/session/Ses_A/message").params == {"sessionID": "Ses_A"}
    # find-my-way decodes reserved escapes inside parameters only
    assert policy.classify("GET", "/session/a%2Fb/todo").params == {"sessionID": "a/b"}
    assert policy.classify("GET", "/api/fs/read/x%2F..%2Fy").params == {"*": "x/../y"}


def test_unclassified_needs_all_three(policy: Policy) -> None:
    classified = policy.classify("PUT", "/path")
    assert classified.rule is None and classified.needs == frozenset({R, W, X})
    assert classified.rule_name == "unclassified"


def test_head_is_decided_by_the_get_row(policy: Policy) -> None:
    assert policy.classify("HEAD", "/file/content").rule_name == "GET /file/content"


def test_options_needs_read_and_execute_where_an_operation_needs_it(policy: Policy) -> None:
    assert policy.classify("OPTIONS", "/path").needs == frozenset({R})
    assert policy.classify("OPTIONS", "/config").needs == frozenset({R, X})  # PATCH /config
    assert policy.classify("OPTIONS", "/nowhere/at/all").needs == frozenset({R, W, X})


def test_unknown_methods_are_refused(policy: Policy) -> None:
    for method in ("TRACE", "CONNECT", "get", "PROPFIND"):
        assert policy.classify(method, "/path").needs is None


def test_directory_sources(policy: Policy) -> None:
    by_name = {r.name: r for r in policy}
    assert by_name["GET /file/content"].directory is DirectoryFrom.INSTANCE
    assert by_name["GET /api/fs/list"].directory is DirectoryFrom.LOCATION
    assert by_name["GET /api/session/{sessionID}"].directory is DirectoryFrom.SESSION
    assert by_name["POST /api/session"].directory is DirectoryFrom.BODY
    assert by_name["GET /global/event"].directory is DirectoryFrom.NONE
    assert by_name["GET /assets/*"].directory is DirectoryFrom.WEBAPP
    # opencode's instance middleware runs on the project routes, its location
    # middleware on the saved permissions (the foreign folder's plugins ran)
    for name in (
        "GET /project",
        "PATCH /project/{projectID}",
        "GET /project/{projectID}/directories",
    ):
        assert by_name[name].directory is DirectoryFrom.INSTANCE, name
    for name in ("GET /api/permission/saved", "DELETE /api/permission/saved/{id}"):
        assert by_name[name].directory is DirectoryFrom.LOCATION, name


# Where opencode 1.18.33's document does not tell the truth about a row's directory,
# as running it shows (tests/gateway/test_policy_directories_real.py).
DOCUMENT_IS_SILENT = {
    "GET /api/session": "its `directory` only filters the list: no folder is loaded",
    "GET /api/permission/saved": "its group runs the location middleware, undocumented",
    "DELETE /api/permission/saved/{id}": "its group runs the location middleware, undocumented",
}


def test_the_directory_column_agrees_with_the_document(policy: Policy) -> None:
    """A documented `directory` query parameter means an instance route (or a body
    row, refused whenever anything restricts), `location` a location route, and a
    row that reads a directory documents one - but for the rows listed above."""
    doc = json.loads(DOC.read_text())
    rows = {(r.method, r.path): r for r in policy}
    disagree = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            rule = rows[(method.upper(), path)]
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            says = (
                {DirectoryFrom.INSTANCE, DirectoryFrom.BODY}
                if "directory" in query
                else {DirectoryFrom.LOCATION}
                if any(name.startswith("location") for name in query)
                else {DirectoryFrom.NONE, DirectoryFrom.SESSION, DirectoryFrom.BODY}
            )
            if rule.directory not in says and rule.name not in DOCUMENT_IS_SILENT:
                disagree.append(f"{rule.name}: {rule.directory.value}, the document {query}")
            elif rule.directory in says and rule.name in DOCUMENT_IS_SILENT:
                disagree.append(f"{rule.name}: no longer an exception")
    assert disagree == []


def test_routes_that_return_a_files_bytes(policy: Policy) -> None:
    """Only these hand out one file's content; searches and diffs, whose results
    cannot be limited to some files, need execute outright."""
    assert sorted(r.name for r in policy if r.content) == [
        "GET /api/fs/read/*",
        "GET /file/content",
    ]
    for name in (
        "GET /find",
        "GET /vcs/diff",
        "GET /vcs/diff/raw",
        "GET /session/{sessionID}/diff",
    ):
        assert X in next(r for r in policy if r.name == name).needs, name


# --- the file itself ----------------------------------------------------------------


def test_the_file_is_one_row_per_line_in_canonical_form(policy: Policy) -> None:
    text = POLICY_FILE.read_text()
    start = text.index('"operations": [\n') + len('"operations": [\n')
    end = text.rindex("\n ]\n}")
    rows = ",\n".join("  " + json.dumps(r.as_dict(), ensure_ascii=False) for r in policy.rules)
    assert text[start:end] == rows
    for rule in policy:
        assert len(rule.reason) <= 110, rule.name  # one line in `policy`


def _policy(rows: list[dict[str, object]]) -> Policy:
    return Policy({"opencode": "x", "operations": rows})


def test_a_row_looser_than_the_floor_is_refused() -> None:
    with pytest.raises(PolicyError, match="less than the PR #8217 rule"):
        _policy(
            [
                {
                    "method": "GET",
                    "path": "/session",
                    "needs": ["read"],
                    "directory": "none",
                    "reason": "x",
                }
            ]
        )
    with pytest.raises(PolicyError, match="less than"):
        _policy(
            [
                {
                    "method": "POST",
                    "path": "/log",
                    "needs": ["read"],
                    "directory": "none",
                    "reason": "x",
                }
            ]
        )


def test_a_row_classified_twice_is_refused() -> None:
    row: dict[str, object] = {
        "method": "GET",
        "path": "/x",
        "needs": ["read"],
        "directory": "none",
        "reason": "x",
    }
    with pytest.raises(PolicyError, match="twice"):
        _policy([row, dict(row)])


@pytest.mark.parametrize(
    "row",
    [
        {"method": "TRACE", "path": "/x", "needs": ["read"], "directory": "none", "reason": "x"},
        {"method": "GET", "path": "x", "needs": ["read"], "directory": "none", "reason": "x"},
        {"method": "GET", "path": "/x", "needs": ["admin"], "directory": "none", "reason": "x"},
        {"method": "GET", "path": "/x", "needs": ["read"], "directory": "moon", "reason": "x"},
        {"method": "GET", "path": "/x", "needs": ["read"], "directory": "none", "reason": ""},
        {"method": "GET", "path": "/x", "needs": ["read"], "directory": "none"},
        {
            "method": "GET",
            "path": "/x",
            "needs": ["read"],
            "directory": "none",
            "reason": "x",
            "files": "tree",
        },
        {
            "method": "GET",
            "path": "/x",
            "needs": ["read"],
            "directory": "instance",
            "reason": "x",
            "files": "tree",
            "content": True,
        },
        {
            "method": "GET",
            "path": "/x",
            "needs": ["read"],
            "directory": "instance",
            "reason": "x",
            "content": True,
        },
        {
            "method": "GET",
            "path": "/x",
            "needs": ["read"],
            "directory": "instance",
            "reason": "x",
            "files": "path",
            "content": "yes",
        },
    ],
)
def test_bad_rows_are_refused(row: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        _policy([row])
