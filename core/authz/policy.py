"""The opencode route policy: what each of opencode's operations needs, as data.

`core/authz/opencode_policy.json` has one row per operation of opencode's OpenAPI
document (`GET /doc`) and per route it serves without documenting (`/doc`, the
web app's static files): method, path template, the permissions it needs, where
opencode takes its directory from, which file it touches (and whether it returns
that file's bytes), and a one-line reason. This module loads the file once and
answers, for a request, which row decides it - matched the way opencode routes
(`core.authz.routing`) - and what it needs:

    needs = the PR #8217 floor (core.authz.rules)  |  the row's permissions

so no row can ever make a request need less than the floor. A request that
matches no row needs all three permissions and is reported as `unclassified`.
`HEAD` is decided by the `GET` row; `OPTIONS` needs `read`, plus `execute` when
any operation at that path needs it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.authz.routing import Match, RouteTree, routed_path
from core.authz.rules import method_permission, required_permissions
from core.model.permissions import ALL_PERMISSIONS, Permission, canonical

POLICY_FILE = Path(__file__).with_name("opencode_policy.json")
ROUTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
UNCLASSIFIED = "unclassified"


class DirectoryFrom(StrEnum):
    """Where opencode takes the directory an operation works in from."""

    INSTANCE = "instance"
    """`?directory=`, else the `x-opencode-directory` header, else its own; a
    `sessionID` in the path adds the session's directory; `?workspace=` selects
    a workspace's."""
    LOCATION = "location"
    """`?location[directory]=`, else the header, else its own (the /api routes)."""
    SESSION = "session"
    """The directory the session in the path was created in."""
    BODY = "body"
    """Named in the request body, which the gateway does not read."""
    NONE = "none"
    """Works on no directory (global state, or every directory at once)."""
    WEBAPP = "webapp"
    """A static file of the web app: no directory, nothing runs."""


class FileTarget(StrEnum):
    """Which files an operation reads, beyond the directory itself."""

    PATH = "path"
    """One file or folder: the `path` query parameter, inside the directory."""
    WILDCARD = "wildcard"
    """One file: the rest of the URL path, inside the directory."""
    TREE = "tree"
    """Any file under the directory (searches, git status and diffs)."""


class PolicyError(ValueError):
    """The policy file breaks one of its own rules (a bug in the file)."""


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    needs: frozenset[Permission]
    directory: DirectoryFrom
    reason: str
    files: FileTarget | None = None
    content: bool = False
    """It returns the bytes of the one file it names, so opencode's config files
    (which can hold API keys) need execute too (`core.authz.scope`)."""
    public: bool = False
    documented: bool = True

    @functools.cached_property
    def name(self) -> str:
        """How decisions and logs name the rule: `GET /file/content`."""
        return f"{self.method} {self.path}"

    @functools.cached_property
    def path_params(self) -> tuple[str, ...]:
        return tuple(
            part[1:-1]
            for part in self.path.split("/")
            if part.startswith("{") and part.endswith("}")
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "needs": [p.value for p in canonical(self.needs)],
            "directory": self.directory.value,
        }
        if self.files is not None:
            data["files"] = self.files.value
        if self.content:
            data["content"] = True
        if self.public:
            data["public"] = True
        data["documented"] = self.documented
        data["reason"] = self.reason
        return data


@dataclass(frozen=True, slots=True)
class Classified:
    """What the policy says about one request."""

    rule: Rule | None
    """The row that decides it; None when no row matches (unclassified)."""
    needs: frozenset[Permission] | None
    """Everything the request needs (floor | row); None: the method is refused."""
    params: Mapping[str, str] = field(default_factory=dict)
    """The route's path parameters as opencode reads them (`*` for a wildcard)."""

    @property
    def rule_name(self) -> str:
        return UNCLASSIFIED if self.rule is None else self.rule.name


class Policy:
    """The rows of one policy file, ready to match requests."""

    def __init__(self, data: Mapping[str, Any], *, source: str = "policy") -> None:
        self.source = source
        self.opencode_version: str = str(data.get("opencode", ""))
        unclassified = data.get("unclassified", {})
        self.unclassified_reason: str = str(unclassified.get("reason", ""))
        self.rules: tuple[Rule, ...] = tuple(_rule(row, source) for row in data["operations"])
        self._check()
        self._api: dict[str, RouteTree[Rule]] = {m: RouteTree() for m in ROUTED_METHODS}
        self._webapp: RouteTree[Rule] = RouteTree()
        for rule in self.rules:
            tree = (
                self._webapp if rule.directory is DirectoryFrom.WEBAPP else self._api[rule.method]
            )
            try:
                tree.add(rule.path, rule)
            except ValueError as exc:
                raise PolicyError(f"{source}: {exc}") from None
        self.classify = functools.lru_cache(maxsize=4096)(self._classify)

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> Policy:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyError(f"{path}: cannot read the policy: {exc}") from None
        return cls(data, source=str(path))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def _check(self) -> None:
        seen: set[tuple[str, str]] = set()
        for rule in self.rules:
            key = (rule.method, rule.path)
            if key in seen:
                raise PolicyError(f"{self.source}: {rule.name} is classified twice")
            seen.add(key)
            floor = required_permissions(rule.method, rule.path)
            if floor is None or not floor <= rule.needs:
                raise PolicyError(
                    f"{self.source}: {rule.name} needs less than the PR #8217 rule "
                    f"({', '.join(p.value for p in canonical(floor or ()))})"
                )
            if rule.files is not None and rule.directory not in (
                DirectoryFrom.INSTANCE,
                DirectoryFrom.LOCATION,
            ):
                raise PolicyError(f"{self.source}: {rule.name} reads files but has no directory")
            if rule.content and rule.files not in (FileTarget.PATH, FileTarget.WILDCARD):
                raise PolicyError(
                    f"{self.source}: {rule.name} returns a file's content but names no one file"
                )

    # --- matching -------------------------------------------------------------------

    def match(self, method: str, target: str) -> Match[Rule] | None:
        """The row opencode's router would run for `method target`, with its params."""
        lookup = "GET" if method == "HEAD" else method
        tree = self._api.get(lookup)
        if tree is None:
            return None
        routed = routed_path(target)
        if routed is None:
            return None  # opencode finds no route at all (a malformed escape)
        found = tree.match(routed)
        if found is None and lookup == "GET":
            found = self._webapp.match(routed)  # what the catch-all serves
        return found if isinstance(found, Match) else None

    def _classify(self, method: str, target: str) -> Classified:
        if method_permission(method) is None:
            return Classified(None, None)  # the PR #8217 rule refuses the method
        if method == "OPTIONS":
            return self._preflight(target, required_permissions(method, target) or ALL_PERMISSIONS)
        found = self.match(method, target)
        if found is None:
            return Classified(None, ALL_PERMISSIONS)
        rule = found.value
        if Permission.EXECUTE in rule.needs:
            # The PR #8217 rule adds at most execute to the method's permission,
            # which every row holds (checked at load): nothing to add.
            return Classified(rule, rule.needs, found.params)
        floor = required_permissions(method, target) or ALL_PERMISSIONS
        return Classified(rule, floor | rule.needs, found.params)

    def _preflight(self, target: str, floor: frozenset[Permission]) -> Classified:
        """OPTIONS (a CORS preflight, answered by opencode without running anything):
        read, plus execute if any operation at the path needs it."""
        rules = [m.value for m in (self.match(method, target) for method in ROUTED_METHODS) if m]
        if not rules:
            return Classified(None, ALL_PERMISSIONS)
        needs = set(floor)
        if any(Permission.EXECUTE in rule.needs for rule in rules):
            needs.add(Permission.EXECUTE)
        return Classified(rules[0], frozenset(needs))

    def counts(self) -> dict[str, int]:
        """How many rows need each combination (`read`, `write`, `read+execute`, ...)."""
        out: dict[str, int] = {}
        for rule in self.rules:
            key = "+".join(p.value for p in canonical(rule.needs))
            out[key] = out.get(key, 0) + 1
        return out


def _rule(row: Mapping[str, Any], source: str) -> Rule:
    try:
        needs = frozenset(Permission(p) for p in row["needs"])
        files = row.get("files")
        rule = Rule(
            method=str(row["method"]),
            path=str(row["path"]),
            needs=needs,
            directory=DirectoryFrom(row["directory"]),
            reason=str(row["reason"]),
            files=None if files is None else FileTarget(files),
            content=_flag(row, "content"),
            public=_flag(row, "public"),
            documented=_flag(row, "documented", default=True),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise PolicyError(f"{source}: bad row {dict(row)!r}: {exc}") from None
    if rule.method not in ROUTED_METHODS or not rule.path.startswith("/"):
        raise PolicyError(f"{source}: bad row {rule.name}")
    if not rule.reason.strip() or "\n" in rule.reason:
        raise PolicyError(f"{source}: {rule.name} needs a one-line reason")
    return rule


def _flag(row: Mapping[str, Any], key: str, *, default: bool = False) -> bool:
    value = row.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


@functools.cache
def default_policy() -> Policy:
    """The policy shipped with this version (core/authz/opencode_policy.json), loaded once."""
    return Policy.load()
