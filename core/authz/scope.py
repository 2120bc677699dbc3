"""Directory scope: which directories a request may make opencode work in.

opencode serves any directory a request names, and loading a directory runs
its configuration (plugins, MCP servers). So the server (the gateway or
forward-auth) serves a set of **roots**, a token may narrow them further
(`directories` in its record), and some paths are never served at all (the
token store, opencode's own credentials and config, /proc):

- where opencode takes the directory from is a property of the route
  (`core.authz.policy.DirectoryFrom`); this module reads it from the request the way
  opencode does (`directory_request`);
- a relative directory, one with NUL or `.`/`..` segments, or two sources that
  disagree -> 400 `bad_directory`;
- outside the roots or the token's directories -> 403 `directory_not_allowed`;
- where the directory cannot be known (named in the body, chosen by a
  workspace) -> 403 `directory_unknown`;
- a file or search that would reach a protected path -> 403 `protected_path`;
- a route that returns a file's bytes, asked for one of opencode's config
  files (which can hold API keys: PATCH /config writes them there) by a token
  without `execute` -> 403 `insufficient_scope` (`is_config_file`).

Directories are compared after lexical normalisation and, when the server
sees the same files as opencode (the usual case), also after resolving
symbolic links, so `root/link-to-etc` is not inside `root`.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote_plus

from core.authz.policy import DirectoryFrom, FileTarget, Rule
from core.authz.protected import (
    CONFIG_FILES_NEED,
    CONFIG_FILES_REASON,
    NEVER_SERVED,
    Protected,
    is_config_file,
    join_inside,
    real,
    real_below,
)
from core.authz.routing import decode_uri_component_or_raw
from core.model.directories import BadDirectory, normalize_directory, within
from core.model.permissions import Permission

DIRECTORY_HEADER = "x-opencode-directory"
WORKSPACE_HEADER = "x-opencode-workspace"
_IGNORED_BY_URL_PARSERS = str.maketrans("", "", "\t\n\r")


NOT_LEARNED = "the server has not yet learned from opencode which directory it serves"


class ScopeReason(StrEnum):
    BAD_DIRECTORY = "bad_directory"
    DIRECTORY_NOT_ALLOWED = "directory_not_allowed"
    DIRECTORY_UNKNOWN = "directory_unknown"
    PROTECTED_PATH = "protected_path"
    PATH_NOT_ALLOWED = "path_not_allowed"
    INSUFFICIENT_SCOPE = "insufficient_scope"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: ScopeReason
    message: str
    needs: frozenset[Permission] = frozenset()
    """What the request needs beyond its row (`insufficient_scope` only)."""


# --- the roots a server serves ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Root:
    path: str
    resolved: str

    @classmethod
    def of(cls, path: str) -> Root:
        clean = normalize_directory(path)
        return cls(clean, real(clean))


@dataclass(frozen=True, slots=True)
class ServerScope:
    """The directories a server serves.

    `roots` None means any directory (`--any-directory`). `default_directory` is
    opencode's own working directory, used for requests that name none; when
    it is not known, `default_trusted` says whether such requests still pass:
    offline (`token check`) they do, as for opencode's own directory; a server
    that has not yet heard from opencode refuses them (503), since opencode's
    directory may lie outside the `--directory` roots.
    """

    roots: tuple[Root, ...] | None = None
    default_directory: str | None = None
    default_trusted: bool = True
    protected: Protected = field(default_factory=Protected)
    follow_links: bool = True
    pending: bool = False
    """The roots are opencode's own directory, not learned yet: refuse (503)."""

    @property
    def any_directory(self) -> bool:
        return self.roots is None


UNRESTRICTED = ServerScope()


# --- what a request names --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DirectoryRequest:
    """The directory facts of one request, read the way opencode reads them."""

    explicit: str | None = None
    problem: str | None = None
    workspace: bool = False
    file: str | None = None
    session_id: str | None = None


_NOTHING_NAMED = DirectoryRequest()

Headers = Callable[[str], Sequence[str]]
"""All values of a request header, by lower-case name."""


def no_headers(name: str) -> Sequence[str]:
    return ()


def query_values(target: str, name: str) -> list[str]:
    """All values of query parameter `name`, parsed as browsers and Node's
    URLSearchParams do (tabs and newlines dropped, `+` is a space, UTF-8
    percent-escapes decoded)."""
    cut = target.find("?")
    if cut == -1:
        return []
    query = target[cut + 1 :].translate(_IGNORED_BY_URL_PARSERS)
    hash_at = query.find("#")
    if hash_at != -1:
        query = query[:hash_at]
    values = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if unquote_plus(key, errors="replace") == name:
            values.append(unquote_plus(value, errors="replace"))
    return values


def query_key(item: str) -> str:
    """The decoded name of one `name=value` item of a query string."""
    key = item.partition("=")[0].translate(_IGNORED_BY_URL_PARSERS)
    return unquote_plus(key, errors="replace")


def _one(values: Iterable[str], what: str) -> tuple[str | None, str | None]:
    """The single value (None for none, or only empty ones), or a problem when two
    values differ - an empty one included: opencode reads the first
    (`searchParams.get`), and `directory=&directory=/here` would have it fall back
    to its own directory while a check of the non-empty one passed."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        return None, f"the request names {what} more than once, differently"
    return ((distinct[0] or None) if distinct else None), None


def directory_request(
    rule: Rule, params: Mapping[str, str], target: str, headers: Headers = no_headers
) -> DirectoryRequest:
    """What `target` (and its headers) say about the directory `rule` works in."""
    source = rule.directory
    if source in (DirectoryFrom.NONE, DirectoryFrom.WEBAPP, DirectoryFrom.BODY):
        return DirectoryRequest()
    session_id = params.get("sessionID") if "sessionID" in rule.path_params else None
    if source is DirectoryFrom.SESSION:
        return DirectoryRequest(session_id=session_id)
    header_values = headers(DIRECTORY_HEADER)
    workspace = any(headers(WORKSPACE_HEADER))
    if not header_values and "?" not in target and rule.files is not FileTarget.WILDCARD:
        if not workspace and session_id is None:
            return _NOTHING_NAMED  # the usual case
        return DirectoryRequest(workspace=workspace, session_id=session_id)
    if len(header_values) > 1:
        return DirectoryRequest(problem=f"the {DIRECTORY_HEADER} header was sent more than once")
    if header_values and not header_values[0].isascii():
        # Raw bytes beyond ASCII are read as UTF-8 here and may be read otherwise
        # (as Latin-1) by opencode: the folder decided on would not be the one used.
        return DirectoryRequest(
            problem=f"the {DIRECTORY_HEADER} header holds characters beyond ASCII "
            "(percent-encode them, as opencode's clients do)"
        )
    header = decode_uri_component_or_raw(header_values[0]) if header_values else None
    query, file, problem, named_workspace = _query_facts(rule, target)
    if problem is None and rule.files is FileTarget.WILDCARD:
        file = params.get("*")
    if problem is None and query and header and _same_directory(query, header) is False:
        problem = f"the directory parameter and the {DIRECTORY_HEADER} header disagree"
    explicit = query or header or None
    if problem is None and explicit is not None and explicit is not query:
        try:
            explicit = normalize_directory(explicit)
        except BadDirectory as exc:
            problem = str(exc)
    if problem is None and file is not None and "\x00" in file:
        problem = "the file path contains a NUL character"
    return DirectoryRequest(
        explicit=explicit if problem is None else None,
        problem=problem,
        workspace=workspace or named_workspace,
        file=file,
        session_id=session_id,
    )


@functools.lru_cache(maxsize=4096)
def _query_facts(rule: Rule, target: str) -> tuple[str | None, str | None, str | None, bool]:
    """(directory, file, problem, workspace) from the query string, memoised:
    public request data, the same few targets over and over."""
    if "?" not in target:
        return None, None, None, False
    if rule.directory is DirectoryFrom.INSTANCE:
        # opencode decodes the query value once more (decodeURIComponent).
        values = [decode_uri_component_or_raw(v) for v in query_values(target, "directory")]
        workspace = any(query_values(target, "workspace"))
    else:
        values = query_values(target, "location[directory]")
        workspace = any(query_values(target, "location[workspace]")) or any(
            query_values(target, "workspace")
        )
    query, problem = _one(values, "its directory")
    if problem is None and query is not None:
        try:
            query = normalize_directory(query)
        except BadDirectory as exc:
            problem = str(exc)
    file: str | None = None
    if problem is None and rule.files is FileTarget.PATH:
        file, problem = _one(query_values(target, "path"), "its path")
    return (None if problem else query), file, problem, workspace


def _same_directory(a: str, b: str) -> bool | None:
    try:
        return normalize_directory(a) == normalize_directory(b)
    except BadDirectory:
        return None


# --- the decision ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionDirectory:
    """What opencode says about a session: its directory (None: no such session)
    and whether it belongs to a workspace (whose directory opencode picks)."""

    directory: str | None
    workspace: bool = False


SessionLookup = Callable[[str], SessionDirectory | None]
"""A session's directory, or None when it has not been looked up yet."""


class SessionLookupNeeded(Exception):
    """The decision depends on a session's directory, which the caller must look
    up (asynchronously, from opencode) before deciding again."""

    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id


def no_sessions(session_id: str) -> SessionDirectory:
    """For offline decisions (`token check`): a session's directory is unknown, so
    only the directory the request names is checked."""
    return SessionDirectory(None)


def check_scope(
    rule: Rule,
    request: DirectoryRequest,
    server: ServerScope,
    token_directories: Sequence[str],
    sessions: SessionLookup = no_sessions,
    granted: frozenset[Permission] = frozenset(),
) -> Refusal | None:
    """None if the request stays inside the server's roots and the token's
    directories, reaches no protected path, and reads one of opencode's config
    files only with `execute` among the `granted` permissions; else why not."""
    source = rule.directory
    if source in (DirectoryFrom.NONE, DirectoryFrom.WEBAPP):
        return None
    if server.pending:
        return Refusal(503, ScopeReason.DIRECTORY_UNKNOWN, NOT_LEARNED)
    if request.problem is not None:
        return Refusal(400, ScopeReason.BAD_DIRECTORY, request.problem)
    restricted = server.roots is not None or bool(token_directories)
    if source is DirectoryFrom.BODY:
        if restricted:
            return _unknown(f"{rule.name} names its directory in the request body")
        return None
    if request.workspace and restricted:
        return _unknown("the request selects a workspace, whose directory opencode picks")
    targets: list[str] = []
    if source in (DirectoryFrom.INSTANCE, DirectoryFrom.LOCATION):
        directory = request.explicit or server.default_directory
        if directory is None:
            if not server.default_trusted:
                # opencode would work in its own directory, which may lie outside
                # every root (--directory names others) or hold protected paths
                return Refusal(503, ScopeReason.DIRECTORY_UNKNOWN, NOT_LEARNED)
            if rule.content and request.file:
                # The directory is not known, so links cannot be followed: the name still can.
                refusal = _config_file(posixpath.normpath(request.file), None, granted)
                if refusal is not None:
                    return refusal
        else:
            targets.append(directory)
    if request.session_id is not None and restricted:
        session = sessions(request.session_id)
        if session is None:
            raise SessionLookupNeeded(request.session_id)
        if session.workspace and restricted:
            return _unknown("the session belongs to a workspace, whose directory opencode picks")
        if session.directory is not None:
            try:
                targets.append(normalize_directory(session.directory))
            except BadDirectory:
                return _unknown("opencode reports the session's directory as a relative path")
    for index, directory in enumerate(targets):
        files = index == 0 and rule.files is not None
        target = _target(rule, directory, request.file) if files else None
        resolved, resolved_target = _resolve(directory, target, server.follow_links)
        refusal = _check_directory(directory, resolved, server, token_directories)
        if refusal is None and files:
            refusal = _check_files(
                rule, directory, resolved, target, resolved_target, server, granted
            )
        if refusal is not None:
            return refusal
    return None


def _target(rule: Rule, directory: str, file: str | None) -> str | None:
    """The file a `files: path` request names, joined to its directory."""
    if rule.files is FileTarget.TREE:
        return None
    return directory if not file else join_inside(directory, file)


def _resolve(directory: str, target: str | None, follow_links: bool) -> tuple[str, str | None]:
    """The directory and the target file with their links resolved, in one
    lookup each (protected.py says why this is fresh on every request)."""
    if not follow_links:
        return directory, None
    if target is None or target == directory:
        resolved = real(directory)
        return resolved, (resolved if target is not None else None)
    if within(target, directory):
        return real_below(directory, target[len(directory) :].lstrip("/"))
    return real(directory), None  # refused below: the path leaves the directory


def _unknown(why: str) -> Refusal:
    return Refusal(403, ScopeReason.DIRECTORY_UNKNOWN, f"{why}, so its scope cannot be checked")


def _check_directory(
    directory: str, resolved: str, server: ServerScope, token_directories: Sequence[str]
) -> Refusal | None:
    if server.roots is not None and not any(
        within(directory, root.path) and within(resolved, root.resolved) for root in server.roots
    ):
        return Refusal(
            403,
            ScopeReason.DIRECTORY_NOT_ALLOWED,
            f"{directory} is outside the directories this server serves",
        )
    if token_directories and not any(
        within(directory, allowed)
        and within(resolved, real(allowed) if server.follow_links else allowed)
        for allowed in token_directories
    ):
        return Refusal(
            403,
            ScopeReason.DIRECTORY_NOT_ALLOWED,
            f"{directory} is outside the directories this token may use",
        )
    if server.protected.covers(directory) or server.protected.covers(resolved):
        return Refusal(403, ScopeReason.PROTECTED_PATH, f"{directory} is {NEVER_SERVED}")
    return None


def _check_files(
    rule: Rule,
    directory: str,
    resolved: str,
    target: str | None,
    resolved_target: str | None,
    server: ServerScope,
    granted: frozenset[Permission],
) -> Refusal | None:
    protected = server.protected
    if target is None:  # a search of the whole tree
        hit = protected.inside(directory) or protected.inside(resolved)
        if hit is not None:
            return Refusal(
                403,
                ScopeReason.PROTECTED_PATH,
                f"a search in {directory} would reach {hit}, which is {NEVER_SERVED}",
            )
        return None
    if not within(target, directory):
        return Refusal(403, ScopeReason.PATH_NOT_ALLOWED, "the path leaves the directory")
    if resolved_target is not None and not within(resolved_target, resolved):
        return Refusal(403, ScopeReason.PATH_NOT_ALLOWED, "the path leaves the directory")
    if protected.covers(target) or (
        resolved_target is not None and protected.covers(resolved_target)
    ):
        return Refusal(403, ScopeReason.PROTECTED_PATH, f"{target} is {NEVER_SERVED}")
    if rule.content:
        return _config_file(target, resolved_target, granted)
    return None


def _config_file(
    target: str, resolved: str | None, granted: frozenset[Permission]
) -> Refusal | None:
    """One of opencode's config files - by its own name, or by where its links lead -
    needs execute to be read."""
    if granted >= CONFIG_FILES_NEED:
        return None
    if is_config_file(target):
        why = f"{target} is one"
    elif resolved is not None and is_config_file(resolved):
        why = f"{target} leads to one"
    else:
        return None
    return Refusal(
        403, ScopeReason.INSUFFICIENT_SCOPE, f"{CONFIG_FILES_REASON}: {why}", CONFIG_FILES_NEED
    )
