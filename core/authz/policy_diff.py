"""What a newer opencode's OpenAPI document changes for the route policy.

`opencode-auth-tui policy --diff doc.json` (save a running server's `GET /doc`
first) lists everything a person must decide before the policy can be said to
be made for that version:

- operations the document has and the policy does not (until a row is added
  they are unclassified: all three permissions, logged as such);
- rows the document no longer has (stale: remove them);
- operations whose parameters no longer fit their row: a route that now takes
  `directory` or `location` where the row says it uses none, or the reverse,
  or a new `path`/`sessionID` the scope rules should know about.

Nothing here changes the policy file: the decisions are a person's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.authz.policy import Policy
from core.authz.rules import required_permissions
from core.model.errors import InputError
from core.model.permissions import canonical

_METHODS = ("get", "post", "put", "patch", "delete")


class BadDocument(InputError):
    pass


def read_document(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadDocument(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BadDocument(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise BadDocument(f"{path}: not an OpenAPI document (no paths); save GET /doc")
    return data


@dataclass
class Report:
    source: str
    policy_version: str
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.missing or self.stale or self.changed)

    def lines(self) -> list[str]:
        head = f"{self.source} against the policy made for opencode {self.policy_version}:"
        out = [head]
        if self.empty:
            out.append("  nothing to decide: every operation has its row, and every row fits.")
            return out
        out += [f"  new, needs a row:    {item}" for item in self.missing]
        out += [f"  gone, remove the row: {item}" for item in self.stale]
        out += [f"  review the row:      {item}" for item in self.changed]
        count = len(self.missing) + len(self.stale) + len(self.changed)
        out.append(
            f"{count} to decide. Edit core/authz/opencode_policy.json (one row per operation), "
            "then run the tests."
        )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.source,
            "policy_made_for": self.policy_version,
            "missing": self.missing,
            "stale": self.stale,
            "changed": self.changed,
        }


def _operations(doc: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    ops: dict[tuple[str, str], dict[str, Any]] = {}
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            continue
        for method, op in item.items():
            if method in _METHODS and isinstance(op, dict):
                ops[(method.upper(), str(path))] = op
    return ops


def _params(op: Mapping[str, Any], where: str) -> set[str]:
    return {
        str(p.get("name"))
        for p in op.get("parameters", [])
        if isinstance(p, dict) and p.get("in") == where
    }


def saved_document(policy: Policy) -> dict[str, Any] | None:
    """The GET /doc the policy was made from, when run from a clone of the
    repository (tests/data/opencode-VERSION-openapi.json); None otherwise."""
    path = (
        Path(__file__).resolve().parents[2]
        / "tests"
        / "data"
        / f"opencode-{policy.opencode_version}-openapi.json"
    )
    try:
        return read_document(str(path))
    except BadDocument:
        return None


def diff_document(
    policy: Policy,
    doc: Mapping[str, Any],
    source: str = "GET /doc",
    saved: Mapping[str, Any] | None = None,
) -> Report:
    """What `doc` needs decided. With `saved` (the document the policy was made
    from), operations whose parameters changed since are listed for review too."""
    report = Report(source, policy.opencode_version)
    ops = _operations(doc)
    rows = {(r.method, r.path): r for r in policy if r.documented}
    for key in sorted(set(ops) - set(rows)):
        method, path = key
        floor = required_permissions(method, path) or frozenset()
        floor_text = "+".join(p.value for p in canonical(floor))
        report.missing.append(
            f"{method} {path} (unclassified until then: read+write+execute; "
            f"the PR #8217 floor alone would be {floor_text})"
        )
    for key in sorted(set(rows) - set(ops)):
        report.stale.append(f"{key[0]} {key[1]}")
    if saved is None:
        return report
    before = _operations(saved)
    for key in sorted(set(rows) & set(ops) & set(before)):
        rule = rows[key]
        for where in ("query", "path", "header"):
            old, new = _params(before[key], where), _params(ops[key], where)
            if old != new:
                added = ", ".join(sorted(new - old)) or "none"
                removed = ", ".join(sorted(old - new)) or "none"
                report.changed.append(
                    f"{rule.name}: {where} parameters changed (added {added}; "
                    f"removed {removed}) - does the row's directory ({rule.directory.value}) "
                    "still hold?"
                )
    return report
