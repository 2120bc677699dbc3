"""Record every request opencode's web app makes, as method + path template.

    .venv/bin/python tests/clients/record_webapp_requests.py [--out FILE] [--measure N]

Starts a real `opencode serve` (tests/gateway/real_servers.start_opencode, in a git
repository with one session), opens the web app in Debian's Chromium with a fresh
profile and walks through what a person does the first time:

  first-load   `/` with the browser's Basic login; no project known yet
  add-project  "Add project", pick the project folder in the dialog
  home         the session list of the project
  session      open the session
  prompt       send a prompt (no model answers here; the request is what counts)
  terminal     open a terminal, run a command, read its output over the WebSocket
  reload       reload the session's page (its own URL, as from a bookmark)
  new-session  "New session", send a prompt (creates the session)

Each request becomes {method, path, query names, x-opencode-* headers, kinds, phases,
the directories it names (as {project} / {home} / {other}), documented}; paths are
matched against the running opencode's own `GET /doc` templates. The result is
written to tests/clients/data/webapp-requests.json so that each row can be checked
against the route policy. `--measure N` also loads the app N more times in fresh
profiles (the project already known) and prints the time from navigation start to
the session list being visible.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import urllib.parse
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.clients import harness

OUT = Path(__file__).with_name("data") / "webapp-requests.json"
PROMPT = "say hello"
WAIT_MS = harness.WAIT * 1000

_ID_PATTERNS = [
    (re.compile(r"^ses_[A-Za-z0-9]+$"), "{sessionID}"),
    (re.compile(r"^msg_[A-Za-z0-9]+$"), "{messageID}"),
    (re.compile(r"^pty_[A-Za-z0-9]+$"), "{ptyID}"),
    (re.compile(r"^prt_[A-Za-z0-9]+$"), "{partID}"),
    (re.compile(r"^[0-9a-f]{40}$"), "{projectID}"),
    (re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"), "{uuid}"),
]


class Templates:
    """Path templates from opencode's OpenAPI document (`/session/{sessionID}`)."""

    def __init__(self, doc_paths: list[str]) -> None:
        self.rows = []
        for path in doc_paths:
            parts = path.strip("/").split("/") if path != "/" else []
            self.rows.append((path, parts))

    def match(self, path: str) -> str | None:
        parts = path.strip("/").split("/") if path != "/" else []
        best: tuple[int, str] | None = None
        for template, tparts in self.rows:
            if tparts and tparts[-1] == "*":
                if len(parts) < len(tparts) or not _same(parts[: len(tparts) - 1], tparts[:-1]):
                    continue
            elif len(parts) != len(tparts) or not _same(parts, tparts):
                continue
            literal = sum(1 for t in tparts if not t.startswith("{") and t != "*")
            if best is None or literal > best[0]:
                best = (literal, template)
        return best[1] if best else None


def _same(parts: list[str], tparts: list[str]) -> bool:
    # opencode routes case-insensitively
    return all(
        t.startswith("{") or p.lower() == t.lower() for p, t in zip(parts, tparts, strict=True)
    )


def app_template(path: str, kind: str) -> str:
    """A template for what /doc does not list: static files and the app's own URLs."""
    if path.startswith("/assets/"):
        return "/assets/{file}"
    out = []
    for i, segment in enumerate(path.strip("/").split("/")):
        for pattern, name in _ID_PATTERNS:
            if pattern.match(segment):
                out.append(name)
                break
        else:
            # the app's routes carry base64url keys: /{dir}/session/..., /server/{key}/...
            if (
                len(segment) >= 12
                and re.fullmatch(r"[A-Za-z0-9_-]+", segment)
                and (i == 0 or out[-1] == "server")
            ):
                out.append("{serverKey}" if out and out[-1] == "server" else "{directoryKey}")
            else:
                out.append(segment)
    return "/" + "/".join(out) if out != [""] else "/"


def directory_names(seen: harness.Seen, places: dict[str, str]) -> tuple[set[str], set[str]]:
    """(where the request names a directory, which directory symbolically)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen.url).query, keep_blank_values=True)
    where: set[str] = set()
    values: list[str] = []
    for name in ("directory", "location[directory]"):
        if name in query:
            where.add(f"query {name}")
            values += query[name]
    if "x-opencode-directory" in seen.headers:
        where.add("header x-opencode-directory")
        values.append(urllib.parse.unquote(seen.headers["x-opencode-directory"]))
    for name in ("workspace", "location[workspace]"):
        if name in query:
            where.add(f"query {name}")
    if "x-opencode-workspace" in seen.headers:
        where.add("header x-opencode-workspace")
    return where, {places.get(v.rstrip("/") or "/", "{other}") for v in values}


def summarise(log: harness.RequestLog, templates: Templates, places: dict[str, str]) -> list[Any]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for seen in log.seen:
        split = urllib.parse.urlsplit(seen.url)
        path = split.path
        documented = seen.kind not in ("document", "script", "stylesheet", "font", "image")
        template = templates.match(path) if documented else None
        if template is None:
            documented = False
            template = app_template(path, seen.kind)
        key = (seen.method, template)
        row = rows.setdefault(
            key,
            {
                "method": seen.method,
                "path": template,
                "documented": documented,
                "kinds": set(),
                "query": set(),
                "headers": set(),
                "directory_in": set(),
                "directories": set(),
                "body_keys": set(),
                "phases": [],
            },
        )
        row["kinds"].add(seen.kind)
        row["query"].update(urllib.parse.parse_qs(split.query, keep_blank_values=True))
        row["headers"].update(k for k in seen.headers if k.startswith("x-opencode-"))
        where, which = directory_names(seen, places)
        row["directory_in"].update(where)
        row["directories"].update(which)
        row["body_keys"].update(seen.body_keys)
        if seen.phase not in row["phases"]:
            row["phases"].append(seen.phase)
    out = []
    for row in sorted(rows.values(), key=lambda r: (r["path"], r["method"])):
        for name in ("kinds", "query", "headers", "directory_in", "directories", "body_keys"):
            row[name] = sorted(row[name])
        out.append(row)
    return out


def walk(playwright: Any, chromium: str, server: harness.Server) -> harness.RequestLog:
    log = harness.RequestLog(phase="first-load")
    credentials = {"username": "opencode", "password": server.password}
    with harness.browser(playwright, chromium, credentials) as context:
        log.watch(context)
        page = context.new_page()
        pause = harness.page_pause(page)
        page.goto(server.url + "/")
        page.get_by_text("Add project").first.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)

        log.phase = "add-project"
        page.get_by_text("Add project").first.click()
        page.get_by_text(f"{server.project.name}/").last.click(timeout=WAIT_MS)

        log.phase = "home"
        session = page.get_by_text(harness.SESSION_TITLE).first
        session.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)

        log.phase = "session"
        session.click()
        editor = page.locator("[contenteditable]").first
        editor.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(2000)

        log.phase = "prompt"
        editor.click()
        page.keyboard.type(PROMPT)
        page.keyboard.press("Enter")
        harness.wait_until(
            lambda: any(s.method == "POST" and "/prompt" in s.url for s in log.seen),
            "the prompt request",
            pause=pause,
        )
        page.wait_for_timeout(1500)

        log.phase = "terminal"
        harness.open_terminal(page, log)
        harness.run_in_terminal(page, log, harness.ECHO_COMMAND, harness.ECHO_OUTPUT)
        page.wait_for_timeout(1000)

        log.phase = "reload"  # the session page's own URL, loaded afresh (a bookmark)
        page.reload()
        page.get_by_text(harness.SESSION_TITLE).first.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)

        log.phase = "new-session"
        page.goto(server.url + "/")
        page.get_by_text("New session").first.click(timeout=WAIT_MS)
        editor = page.locator("[contenteditable]").first
        editor.wait_for(timeout=WAIT_MS)
        editor.click()
        page.keyboard.type(PROMPT)
        page.keyboard.press("Enter")
        harness.wait_until(
            lambda: any(
                s.method == "POST" and s.phase == "new-session" and "/prompt" in s.url
                for s in log.seen
            ),
            "the new session's prompt",
            pause=pause,
        )
        page.wait_for_timeout(2000)
    return log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--measure", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)

    chromium = harness.find_chromium()
    binary = harness._real_servers().find_opencode()
    if chromium is None or binary is None or harness.playwright_missing():
        print("needs opencode, /usr/bin/chromium and Playwright (see .ci/)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    server = harness.start_server(binary)
    try:
        status, doc = server.api("GET", "/doc")
        assert status == 200, status
        templates = Templates(list(doc["paths"]))
        places = {str(server.project): "{project}", str(server.home): "{home}"}
        with sync_playwright() as p:
            log = walk(p, chromium, server)
            credentials = {"username": "opencode", "password": server.password}
            times = [
                harness.first_load_ms(p, chromium, server.url, credentials, server.project)
                for _ in range(args.measure)
            ]
        rows = summarise(log, templates, places)
        version = harness.opencode_version(binary)
    finally:
        harness.stop_server(server)

    document = {
        "opencode": version,
        "recorded_by": "tests/clients/record_webapp_requests.py",
        "how": (
            "the web app served by `opencode serve` at /, in Chromium with a fresh profile "
            "and the browser's Basic login, same origin; phases: first-load, add-project, "
            "home, session, prompt, terminal, reload, new-session"
        ),
        "fields": {
            "path": "the template from opencode's GET /doc, or (documented: false) a static "
            "file or one of the app's own page URLs (index.html fallback)",
            "query": "query parameter names seen",
            "headers": "x-opencode-* request headers seen (Authorization is the browser's)",
            "kinds": "Playwright resource types: document, script, fetch (also the event "
            "streams, read with fetch), websocket, ...",
            "directory_in": "where the request names a directory or workspace",
            "body_keys": "top-level keys of the JSON request bodies seen",
            "directories": "which: {project} = opencode's working directory, {home} = the "
            "HOME opencode reports (the add-project dialog browses it), {other}",
        },
        "requests": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{len(rows)} distinct requests written to {args.out}")
    if times:
        print(
            "first load, navigation start to the session list visible: "
            f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, "
            f"max {max(times):.0f} ms ({len(times)} fresh profiles)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
