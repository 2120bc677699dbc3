"""Directory scope: the directory opencode will work in, read as opencode reads it,
inside the server's roots and the token's directories, never a protected path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.authz.authorizer import CachedAuthorizer
from core.authz.decision import Decision, Reason
from core.authz.policy import default_policy
from core.authz.protected import CONFIG_FILES_REASON, Protected, is_config_file, protected_paths
from core.authz.scope import (
    DirectoryRequest,
    Root,
    ServerScope,
    SessionDirectory,
    SessionLookupNeeded,
    check_scope,
    directory_request,
    query_values,
)
from core.model.permissions import Permission
from core.store import StoreReader, TokenStore
from tests.core.core_helpers import FakeClock

POLICY = default_policy()


def request(
    method: str, target: str, headers: dict[str, list[str]] | None = None
) -> DirectoryRequest:
    classified = POLICY.classify(method, target)
    assert classified.rule is not None
    given = headers or {}
    return directory_request(
        classified.rule, classified.params, target, lambda name: given.get(name, [])
    )


# --- reading the request as opencode does ---------------------------------------------------


def test_query_values_are_parsed_like_url_search_params() -> None:
    assert query_values("/x?directory=%2Fa+b&directory=/c", "directory") == ["/a b", "/c"]
    assert query_values("/x?%64irectory=/a", "directory") == ["/a"]
    assert query_values("/x?direc\ttory=/a#directory=/b", "directory") == ["/a"]
    assert query_values("/x", "directory") == []


@pytest.mark.parametrize(
    ("target", "explicit"),
    [
        ("/file?directory=/srv/app", "/srv/app"),
        ("/file?directory=%2Fsrv%2Fapp", "/srv/app"),
        ("/file?directory=%252Fsrv%252Fapp", "/srv/app"),  # opencode decodes twice
        ("/file?directory=//srv//app/", "/srv/app"),
        ("/file?directory=", None),  # empty: as if absent
        ("/file", None),
    ],
)
def test_the_directory_parameter(target: str, explicit: str | None) -> None:
    assert request("GET", target) == DirectoryRequest(explicit=explicit)


def test_the_directory_header_is_decoded_once() -> None:
    got = request("GET", "/file", {"x-opencode-directory": ["%2Fsrv%2Fapp"]})
    assert got.explicit == "/srv/app"
    # a malformed escape: opencode falls back to the text itself
    assert request("GET", "/file", {"x-opencode-directory": ["/a%zz"]}).explicit == "/a%zz"


@pytest.mark.parametrize(
    ("target", "headers", "problem"),
    [
        ("/file?directory=etc", {}, "not an absolute path"),
        ("/file?directory=.", {}, "not an absolute path"),
        ("/file?directory=/srv/app/../../etc", {}, ". or .. segments"),
        ("/file?directory=/srv/./app", {}, ". or .. segments"),
        ("/file?directory=/srv%00", {}, "NUL"),
        ("/file?directory=/a&directory=/b", {}, "more than once"),
        ("/file?directory=/a", {"x-opencode-directory": ["/b"]}, "disagree"),
        ("/file", {"x-opencode-directory": ["/a", "/a"]}, "more than once"),
        ("/file/content?path=a&path=b", {}, "more than once"),
        ("/file/content?path=a%00", {}, "NUL"),
    ],
)
def test_directories_refused_outright(
    target: str, headers: dict[str, list[str]], problem: str
) -> None:
    got = request("GET", target, headers)
    assert got.problem is not None and problem in got.problem


def test_agreeing_sources_are_fine() -> None:
    got = request("GET", "/file?directory=/a/", {"x-opencode-directory": ["/a"]})
    assert got.explicit == "/a" and got.problem is None


def test_location_routes_read_location_directory() -> None:
    got = request("GET", "/api/fs/list?location[directory]=/srv/app&path=src")
    assert got.explicit == "/srv/app" and got.file == "src"
    got = request("GET", "/api/fs/list?location%5Bdirectory%5D=%2Fsrv")
    assert got.explicit == "/srv"
    # not decoded a second time on these routes
    assert request("GET", "/api/fs/list?location[directory]=/a%2520b").explicit == "/a%20b"


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/file?workspace=wrk_1", {}),
        ("/file", {"x-opencode-workspace": ["wrk_1"]}),
        ("/api/fs/list?location[workspace]=wrk_1", {}),
        ("/api/fs/list", {"x-opencode-workspace": ["wrk_1"]}),
    ],
)
def test_workspaces_are_noticed(target: str, headers: dict[str, list[str]]) -> None:
    assert request("GET", target, headers).workspace


def test_session_routes_carry_the_session_id() -> None:
    assert request("GET", "/session/ses_1/message").session_id == "ses_1"
    assert request("GET", "/api/session/ses_2/message").session_id == "ses_2"
    assert request("GET", "/session/status").session_id is None


def test_files() -> None:
    assert request("GET", "/file/content?path=src/a.py").file == "src/a.py"
    assert request("GET", "/api/fs/read/src/a.py").file == "src/a.py"


# --- deciding ---------------------------------------------------------------------------


class Scoped:
    """A store with tokens, and the authorizer with a given server scope."""

    def __init__(self, tmp_path: Path, clock: FakeClock) -> None:
        self.tmp = tmp_path
        self.project = tmp_path / "srv" / "app"
        (self.project / "src").mkdir(parents=True)
        (self.project / "src" / "a.py").write_text("print(1)\n")
        (tmp_path / "srv" / "other").mkdir()
        (tmp_path / "etc").mkdir()
        (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
        self.store = TokenStore(tmp_path / "store" / "auth-tokens.json", clock=clock)
        self.rwx = self.store.create(name="rwx").secret.reveal()
        self.read = self.store.create(name="r", permissions="read").secret.reveal()
        self.narrow = self.store.create(
            name="narrow", permissions="read", directories=[str(self.project / "src")]
        ).secret.reveal()
        self.auth = CachedAuthorizer(StoreReader(self.store.path), clock=clock)
        self.serve([str(tmp_path / "srv")], default=str(self.project))

    def serve(self, roots: Sequence[str] | None, default: str | None = None) -> None:
        protected = protected_paths([self.store.path], environ={"HOME": str(self.tmp / "home")})
        self.auth.scope = ServerScope(
            roots=None if roots is None else tuple(Root.of(r) for r in roots),
            default_directory=default,
            protected=protected,
        )

    def decide(
        self,
        token: str,
        method: str,
        target: str,
        headers: dict[str, list[str]] | None = None,
        sessions: dict[str, SessionDirectory] | None = None,
    ) -> Decision:
        given = headers or {}
        known = sessions or {}
        return self.auth.decide(
            f"Bearer {token}",
            method,
            target,
            headers=lambda name: given.get(name, []),
            sessions=lambda sid: known.get(sid),
        )


@pytest.fixture
def s(tmp_path: Path, clock: FakeClock) -> Scoped:
    return Scoped(tmp_path, clock)


def test_inside_the_roots(s: Scoped) -> None:
    assert s.decide(s.read, "GET", f"/file/content?directory={s.project}&path=src/a.py").allowed
    assert s.decide(s.read, "GET", f"/file?directory={s.tmp}/srv/other").allowed
    assert s.decide(s.read, "GET", "/file/content?path=src/a.py").allowed  # opencode's own


@pytest.mark.parametrize(
    "target",
    [
        "/file/content?directory={tmp}/etc&path=passwd",
        "/file?directory=/",
        "/find/file?directory=/etc&query=passwd",
        "/file/content?directory=/proc/self&path=environ",
        "/mcp?directory={tmp}",
    ],
)
def test_outside_the_roots_is_403(s: Scoped, target: str) -> None:
    decision = s.decide(s.rwx, "GET", target.format(tmp=s.tmp))
    assert (decision.status, decision.reason) == (403, Reason.DIRECTORY_NOT_ALLOWED)
    assert decision.message and "outside" in decision.message


def test_the_header_is_checked_like_the_parameter(s: Scoped) -> None:
    decision = s.decide(
        s.read, "GET", "/file/content?path=passwd", {"x-opencode-directory": [f"{s.tmp}/etc"]}
    )
    assert decision.reason is Reason.DIRECTORY_NOT_ALLOWED


def test_a_bad_directory_is_400_after_the_token_is_checked(s: Scoped) -> None:
    decision = s.decide(s.read, "GET", "/file?directory=relative")
    assert (decision.status, decision.reason) == (400, Reason.BAD_DIRECTORY)
    # an unauthenticated request learns nothing about directories
    unauthenticated = s.auth.decide(None, "GET", "/file?directory=relative")
    assert unauthenticated.status == 401


def test_the_token_narrows_the_roots(s: Scoped) -> None:
    inside = s.decide(s.narrow, "GET", f"/file?directory={s.project}/src")
    assert inside.allowed
    outside = s.decide(s.narrow, "GET", f"/file?directory={s.project}")
    assert outside.reason is Reason.DIRECTORY_NOT_ALLOWED
    assert "this token" in (outside.message or "")
    # opencode's own directory (no parameter) is outside the token's too
    assert s.decide(s.narrow, "GET", "/file").reason is Reason.DIRECTORY_NOT_ALLOWED


def test_a_symlink_inside_a_root_does_not_lead_out(s: Scoped) -> None:
    (s.project / "etc-link").symlink_to(s.tmp / "etc")
    decision = s.decide(s.read, "GET", f"/file/content?directory={s.project}/etc-link&path=passwd")
    assert decision.reason is Reason.DIRECTORY_NOT_ALLOWED


def test_a_path_leaving_the_directory_is_refused(s: Scoped) -> None:
    for path in ("../../etc/passwd", f"{s.tmp}/etc/passwd"):
        decision = s.decide(s.read, "GET", f"/file/content?directory={s.project}&path={path}")
        assert decision.reason is Reason.PATH_NOT_ALLOWED, path
    (s.project / "pw").symlink_to(s.tmp / "etc" / "passwd")
    decision = s.decide(s.read, "GET", f"/file/content?directory={s.project}&path=pw")
    assert decision.reason is Reason.PATH_NOT_ALLOWED
    decision = s.decide(
        s.read, "GET", f"/api/fs/read/..%2F..%2Fetc%2Fpasswd?location[directory]={s.project}"
    )
    assert decision.reason is Reason.PATH_NOT_ALLOWED


def test_protected_paths_are_never_served(s: Scoped) -> None:
    # a root that holds the store's folder: the store, its lock and backups are refused
    s.serve([str(s.tmp)], default=str(s.project))
    store_dir = s.store.path.parent
    for name in ("auth-tokens.json", "auth-tokens.json.lock", "auth-tokens.json.pr8217-backup-x"):
        decision = s.decide(s.rwx, "GET", f"/file/content?directory={store_dir}&path={name}")
        assert decision.reason is Reason.PROTECTED_PATH, name
        decision = s.decide(s.rwx, "GET", f"/file/content?directory={s.tmp}&path=store/{name}")
        assert decision.reason is Reason.PROTECTED_PATH, name
    # a search in a folder holding the store would reach it
    decision = s.decide(s.rwx, "GET", f"/find?directory={s.tmp}&pattern=digest")
    assert decision.reason is Reason.PROTECTED_PATH
    # opencode's own data folder (auth.json) is protected however it is reached
    data = s.tmp / "home" / ".local" / "share" / "opencode"
    data.mkdir(parents=True)
    (data / "auth.json").write_text("{}")
    decision = s.decide(
        s.rwx, "GET", f"/file/content?directory={s.tmp}&path=home/.local/share/opencode/auth.json"
    )
    assert decision.reason is Reason.PROTECTED_PATH
    (s.project / "creds").symlink_to(data / "auth.json")
    decision = s.decide(s.rwx, "GET", f"/file/content?directory={s.tmp}&path=srv/app/creds")
    assert decision.reason is Reason.PROTECTED_PATH
    decision = s.decide(s.rwx, "GET", f"/file?directory={data}")
    assert decision.reason is Reason.PROTECTED_PATH
    # elsewhere in the same root, files are served
    assert s.decide(s.rwx, "GET", f"/file/content?directory={s.tmp}&path=srv/app/src/a.py").allowed


def test_any_directory_still_protects(s: Scoped) -> None:
    s.serve(None)
    assert s.decide(s.read, "GET", f"/file/content?directory={s.tmp}/etc&path=passwd").allowed
    decision = s.decide(s.read, "GET", "/file/content?directory=/proc/self&path=environ")
    assert decision.reason is Reason.PROTECTED_PATH
    # the token's own directories still apply
    assert s.decide(s.narrow, "GET", f"/file?directory={s.tmp}/etc").reason is (
        Reason.DIRECTORY_NOT_ALLOWED
    )


def test_a_directory_in_the_body_or_a_workspace_is_unknown(s: Scoped) -> None:
    decision = s.decide(s.rwx, "POST", "/api/session")
    assert (decision.status, decision.reason) == (403, Reason.DIRECTORY_UNKNOWN)
    decision = s.decide(s.rwx, "GET", f"/file?directory={s.project}&workspace=wrk_1")
    assert decision.reason is Reason.DIRECTORY_UNKNOWN
    s.serve(None)
    assert s.decide(s.rwx, "POST", "/api/session").allowed  # nothing to check against


def test_a_session_is_checked_in_its_own_directory(s: Scoped) -> None:
    with pytest.raises(SessionLookupNeeded) as needed:
        s.decide(s.rwx, "GET", "/session/ses_1/message")
    assert needed.value.session_id == "ses_1"
    # the lookup is only asked for once the token has passed
    assert s.auth.decide(None, "GET", "/session/ses_1/message").status == 401
    assert s.decide(s.read, "GET", "/session/ses_1/message").status == 403
    inside = {"ses_1": SessionDirectory(str(s.project))}
    assert s.decide(s.rwx, "GET", "/session/ses_1/message", sessions=inside).allowed
    elsewhere = {"ses_1": SessionDirectory(f"{s.tmp}/etc")}
    decision = s.decide(s.rwx, "GET", "/session/ses_1/message", sessions=elsewhere)
    assert decision.reason is Reason.DIRECTORY_NOT_ALLOWED
    decision = s.decide(s.rwx, "GET", "/api/session/ses_1/message", sessions=elsewhere)
    assert decision.reason is Reason.DIRECTORY_NOT_ALLOWED
    missing = {"ses_1": SessionDirectory(None)}  # opencode has no such session
    assert s.decide(s.rwx, "GET", "/session/ses_1/message", sessions=missing).allowed
    workspace = {"ses_1": SessionDirectory(str(s.project), workspace=True)}
    decision = s.decide(s.rwx, "GET", "/session/ses_1/message", sessions=workspace)
    assert decision.reason is Reason.DIRECTORY_UNKNOWN


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        # opencode 1.18.33 loads the folder these name (its plugins run): see
        # tests/gateway/test_policy_directories_real.py
        ("GET", "/project?directory={outside}", {}),
        ("GET", "/project", {"x-opencode-directory": ["{outside}"]}),
        ("GET", "/project/global/directories?directory={outside}", {}),
        ("PATCH", "/project/global?directory={outside}", {}),
        ("GET", "/api/permission/saved?location[directory]={outside}", {}),
        ("GET", "/api/permission/saved", {"x-opencode-directory": ["{outside}"]}),
        ("DELETE", "/api/permission/saved/x?location%5Bdirectory%5D={outside}", {}),
    ],
)
def test_routes_that_load_a_folder_have_it_checked(
    s: Scoped, method: str, target: str, headers: dict[str, list[str]]
) -> None:
    outside = f"{s.tmp}/etc"
    given = {k: [v.format(outside=outside) for v in vs] for k, vs in headers.items()}
    decision = s.decide(s.rwx, method, target.format(outside=outside), given)
    assert decision.reason is Reason.DIRECTORY_NOT_ALLOWED, decision


def test_no_lookup_when_nothing_restricts(s: Scoped) -> None:
    s.serve(None)
    assert s.decide(s.rwx, "GET", "/session/ses_1/message").allowed


def test_the_default_directory_unknown(s: Scoped) -> None:
    s.serve([str(s.tmp / "srv")], default=None)
    assert s.decide(s.read, "GET", "/file").allowed  # opencode's own: always a root
    s.auth.scope = ServerScope(
        roots=s.auth.scope.roots,
        default_directory=None,
        default_trusted=False,
        protected=s.auth.scope.protected,
    )
    assert s.decide(s.narrow, "GET", "/file").reason is Reason.DIRECTORY_UNKNOWN
    # a server that has not heard from opencode refuses every token (503): opencode's
    # own directory may be outside the roots, and protected paths cannot be checked
    for token in (s.read, s.rwx, s.narrow):
        refused = s.decide(token, "GET", "/file/content?path=../.local/share/opencode/auth.json")
        assert (refused.status, refused.reason) == (503, Reason.DIRECTORY_UNKNOWN)
    # ... while a request naming a directory inside the roots is decided as usual
    inside = s.decide(s.read, "GET", f"/file?directory={s.tmp / 'srv'}")
    assert inside.allowed


def test_protected_paths_cover_the_store_and_opencode_folders(tmp_path: Path) -> None:
    env = {"HOME": "/home/u", "XDG_DATA_HOME": "/data"}
    protected = protected_paths([tmp_path / "s" / "auth-tokens.json"], environ=env)
    assert isinstance(protected, Protected)
    for path in (
        "/proc/self/environ",
        "/home/u/.config/opencode/opencode.json",
        "/data/opencode/auth.json",
        "/home/u/.local/state/opencode/x",
        f"{tmp_path}/s/auth-tokens.json",
        f"{tmp_path}/s/.auth-tokens.json.0123456789ab.tmp",
    ):
        assert protected.covers(os.path.normpath(path)), path
    assert not protected.covers(f"{tmp_path}/s/other.json")
    assert not protected.covers("/home/u/.local/share/opencode-not")
    assert protected.inside("/home/u") == "/home/u/.config/opencode"


# --- opencode's config files need execute -----------------------------------------------

R, X = Permission.READ, Permission.EXECUTE


@pytest.mark.parametrize(
    "path",
    [
        "/srv/app/opencode.json",
        "/srv/app/opencode.jsonc",
        "/srv/app/config.json",  # where PATCH /config writes provider keys
        "/srv/app/sub/dir/opencode.json",  # opencode reads each folder up to the worktree
        "/srv/app/.opencode/opencode.jsonc",
        "/srv/app/.opencode/plugin/probe.js",
        "/srv/app/.opencode/agent/review.md",
        "/srv/app/.opencode",
        "/home/u/.opencode/command/x.md",  # the home folder's config folder
        "/srv/app/OPENCODE.JSON",  # the same file on macOS and Windows
        "/srv/app/Config.Json",
        "/srv/app/.OpenCode/x",
    ],
)
def test_config_files_are_recognised(path: str) -> None:
    assert is_config_file(path)


@pytest.mark.parametrize(
    "path",
    [
        "/srv/app/README.md",
        "/srv/app/opencode.json.bak",
        "/srv/app/myconfig.json",
        "/srv/app/opencode.json5",
        "/srv/app/.opencode-notes/x",
        "/srv/app/tsconfig.json",
        "/srv/app/%2eopencode/opencode.js",
    ],
)
def test_other_files_are_not_config_files(path: str) -> None:
    assert not is_config_file(path)


class Configured(Scoped):
    """The project holds opencode's config files, and a read+execute token."""

    def __init__(self, tmp_path: Path, clock: FakeClock) -> None:
        super().__init__(tmp_path, clock)
        for name in ("opencode.json", "opencode.jsonc", "config.json", "src/opencode.json"):
            (self.project / name).write_text('{"provider": {"x": {"options": {"apiKey": "k"}}}}')
        (self.project / ".opencode" / "agent").mkdir(parents=True)
        (self.project / ".opencode" / "opencode.json").write_text("{}")
        (self.project / ".opencode" / "agent" / "a.md").write_text("an agent\n")
        self.rx = self.store.create(name="rx", permissions="read,execute").secret.reveal()


@pytest.fixture
def c(tmp_path: Path, clock: FakeClock) -> Configured:
    return Configured(tmp_path, clock)


CONFIG_TARGETS = [
    "/file/content?path=opencode.json",
    "/file/content?path=opencode.jsonc",
    "/file/content?path=config.json",
    "/file/content?path=src/opencode.json",
    "/file/content?path=.opencode/opencode.json",
    "/file/content?path=.opencode/agent/a.md",
    "/file/content?path=OPENCODE.JSON",
    "/file/content?path=Config.JSON",
    "/file/content?path=src/../opencode.json",
    "/file/content?path=./config.json",
    "/file/content?path=opencode.json/",
    "/file/content?path=src%2F..%2Fopencode.json",
    "/file/content?path=opencode%2Ejson",
    "/file/content?path=%2eopencode%2Fopencode.json",
    "/file/content?path=a%2F.%2e%2Fopencode.json&directory={project}/src",
    "/file/content?path={project}/config.json",
    "/file/content?directory={project}/.opencode&path=opencode.json",
    "/file/content?directory={project}/.opencode",
    "/file/content?directory={project}/src&path=opencode.json",
    "/file/content?path=opencode.json&directory={project}",
    "/api/fs/read/opencode.json",
    "/api/fs/read/config.json",
    "/api/fs/read/OpenCode.Json",
    "/api/fs/read/opencode%2Ejson",
    "/api/fs/read/%2eopencode/opencode.json",
    "/api/fs/read/src/%2e%2e/config.json",
    "/api/fs/read/src%2F..%2Fconfig.json",
    "/api/fs/read/.opencode/agent/a.md",
    "/api/fs/read/opencode.json?location[directory]={project}",
]


@pytest.mark.parametrize("target", CONFIG_TARGETS)
def test_a_config_file_needs_execute(c: Configured, target: str) -> None:
    target = target.format(project=c.project)
    denied = c.decide(c.read, "GET", target)
    assert (denied.status, denied.reason) == (403, Reason.INSUFFICIENT_SCOPE), denied
    assert denied.required == {R, X}  # WWW-Authenticate names the scope that would pass
    assert denied.message is not None and CONFIG_FILES_REASON in denied.message
    assert denied.message.startswith(f"{denied.rule} needs read and execute; this token has read")
    assert c.decide(c.rx, "GET", target).allowed
    assert c.decide(c.rwx, "GET", target).allowed


def test_a_link_to_a_config_file_needs_execute(c: Configured) -> None:
    (c.project / "notes.txt").symlink_to(c.project / "config.json")
    (c.project / "settings").symlink_to(c.project / ".opencode")
    for target in (
        "/file/content?path=notes.txt",
        "/file/content?path=settings/agent/a.md",
        "/api/fs/read/notes.txt",
        "/api/fs/read/settings/agent/a.md",
    ):
        denied = c.decide(c.read, "GET", target)
        assert denied.reason is Reason.INSUFFICIENT_SCOPE, target
        assert "leads to one" in (denied.message or ""), target
        assert c.decide(c.rx, "GET", target).allowed, target


def test_other_files_and_listings_stay_with_read(c: Configured) -> None:
    for target in (
        "/file/content?path=src/a.py",
        "/api/fs/read/src/a.py",
        "/file?path=.opencode",  # names, not content
        "/api/fs/list?path=.opencode",
        "/find/file?query=opencode",
        "/api/fs/find?query=config",
        "/vcs/status",
        # decoded once, as opencode decodes it: a folder literally named `%2eopencode`
        "/file/content?path=%252eopencode/opencode.js",
        "/api/fs/read/%252eopencode/x",
    ):
        assert c.decide(c.read, "GET", target).allowed, target


@pytest.mark.parametrize("target", ["/find?pattern=apiKey", "/vcs/diff?mode=git", "/vcs/diff/raw"])
def test_searches_and_diffs_need_execute_outright(c: Configured, target: str) -> None:
    """Their results cannot be limited to some files: the whole route needs execute."""
    denied = c.decide(c.read, "GET", target)
    assert (denied.status, denied.reason) == (403, Reason.INSUFFICIENT_SCOPE)
    assert "API keys" in (denied.message or "")
    assert c.decide(c.rx, "GET", target).allowed


def test_a_protected_path_stays_protected_for_execute_too(c: Configured) -> None:
    data = c.tmp / "home" / ".config" / "opencode"
    data.mkdir(parents=True)
    (data / "opencode.json").write_text("{}")
    c.serve([str(c.tmp)], default=str(c.project))
    target = f"/file/content?directory={c.tmp}&path=home/.config/opencode/opencode.json"
    assert c.decide(c.read, "GET", target).reason is Reason.PROTECTED_PATH
    assert c.decide(c.rx, "GET", target).reason is Reason.PROTECTED_PATH


def test_with_no_directory_known_the_name_is_still_checked(c: Configured) -> None:
    """`token check` without --directory, or a server before it has learned opencode's
    directory: links cannot be followed, the name can."""
    c.serve(None, default=None)
    for target in ("/file/content?path=opencode.json", "/api/fs/read/x/../.opencode/a"):
        assert c.decide(c.read, "GET", target).reason is Reason.INSUFFICIENT_SCOPE, target
        assert c.decide(c.rx, "GET", target).allowed
    assert c.decide(c.read, "GET", "/file/content?path=README.md").allowed


def test_check_scope_grants_nothing_by_default(c: Configured) -> None:
    """A caller that does not say what the token holds gets the refusal."""
    classified = POLICY.classify("GET", "/file/content?path=opencode.json")
    assert classified.rule is not None
    asked = DirectoryRequest(explicit=str(c.project), file="opencode.json")
    scope = c.auth.scope
    refusal = check_scope(classified.rule, asked, scope, ())
    assert refusal is not None and refusal.needs == {X}
    assert check_scope(classified.rule, asked, scope, (), granted=frozenset({R, X})) is None
