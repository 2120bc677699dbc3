"""core.authz.routing held against a running opencode: for each odd spelling of a request
target, the row the policy picks is the operation opencode really runs (told apart by
the shape of its answer), or - where the policy finds no row - opencode runs no API
operation either (it serves its web app, or finds no route at all)."""

from __future__ import annotations

import json

import pytest

from core.authz.policy import default_policy
from tests.gateway.real_servers import Opencode, request

pytestmark = pytest.mark.opencode

# What each probed operation answers, told apart by a key of its JSON body.
SIGNATURES = {
    "GET /path": "home",
    "GET /vcs": "branch",
    "GET /project/current": "worktree",
    "GET /api/location": "project",
}

BASES = ["/path", "/vcs", "/project/current", "/api/location"]


def spellings(base: str) -> list[str]:
    first, _, rest = base[1:].partition("/")
    head = base[:2]
    tail = base[2:]
    out = [
        base,
        base.upper(),
        base.title(),
        base + "/",
        base + "//",
        "/" + base,
        base.replace("/", "//"),
        base + ";x",
        base + ";",
        base + ";x/more",
        base + "?a=1;b",
        base + "#frag",
        f"{head}%{ord(tail[0]):02X}{tail[1:]}",  # a letter percent-encoded
        f"{head}%{ord(tail[0]):02x}{tail[1:]}",
        f"{head}%25{ord(tail[0]):02X}{tail[1:]}",  # encoded twice: a different path
        base + "%2F",
        base.replace("/", "%2F", 2) if rest else "%2F" + first,
        "/x/.." + base,
        "/." + base,
        base + "/.",
        base + "%00",
        base + "%zz",
        base + "%C0%AF",
        "http://example.invalid" + base,
    ]
    if rest:
        out.append(f"/{first};q/{rest}")
        out.append(f"/{first}/x/../{rest}")
    return out


def what_opencode_ran(status: int, headers: dict[str, str], body: bytes) -> str:
    if status == 404:
        return "no route"
    if status == 400:
        return "refused"  # Node's HTTP parser or opencode refused the target: nothing ran
    if headers.get("content-type", "").startswith("text/html"):
        return "web app"
    try:
        data = json.loads(body)
    except ValueError:
        return f"other {status}"
    if isinstance(data, dict):
        for rule, key in SIGNATURES.items():
            if key in data:
                return rule
    if isinstance(data, list) and data and isinstance(data[0], dict) and "worktree" in data[0]:
        return "GET /project"  # the list of projects
    return f"other {status}"


@pytest.mark.parametrize("base", BASES)
def test_the_policy_routes_as_opencode_does(opencode: Opencode, base: str) -> None:
    policy = default_policy()
    mismatches = []
    for target in spellings(base):
        found = policy.match("GET", target)
        predicted = found.value.name if found is not None else "unclassified"
        status, headers, body = request(
            opencode.url, "GET", target, {"Authorization": opencode.authorization}
        )
        ran = what_opencode_ran(status, headers, body)
        if predicted in SIGNATURES or predicted == "GET /project":
            agrees = ran == predicted
        else:
            # no row: opencode must not have run any operation we would have classified
            agrees = ran in ("web app", "no route", "refused") or (
                predicted.startswith("GET /") and ran == predicted
            )
        if not agrees:
            mismatches.append(f"{target!r}: policy {predicted}, opencode {ran} ({status})")
    assert mismatches == []
