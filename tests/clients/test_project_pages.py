"""Issue 16, attack 3: a project's own HTML or SVG, opened in a browser that holds a
token, must never run as a page of the gateway's (or the proxy's) origin.

The bait is a file in opencode's project - what any cloned repository or
node_modules brings along - whose script, run on the origin it was served from,
asks for a terminal with `fetch('/pty', {method: 'POST'})` (the browser adds its
login: opencode's Basic password, a front's session cookie) running `touch <marker>`.
A person signed in with a full token opens it the three ways a browser can be brought
to it: the address bar, a link on a page of a sibling origin, and a frame in a page
of the front's own origin.

- Served bare (opencode itself, its password): the script runs, each way - the
  attack is real, and the bait works.
- Through the gateway, nginx and Caddy: each answer carries the sandbox policy,
  nosniff and `attachment`; the browser downloads the file, nothing runs.
- The same answers with the three headers taken off in the browser (Playwright
  rewrites the answer, nothing else changes): the script runs on the front's
  origin with the token - the headers are what stops it. With only `attachment`
  taken off, the sandbox alone still stops it.

"Nothing ran" is checked where it would show: no marker file, no new terminal in
opencode's own list (asked directly), no request for a terminal from the browser
or in the access log.
"""

from __future__ import annotations

import functools
import json
import secrets
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.clients import harness

SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'"
SAFETY_HEADERS = ("content-security-policy", "x-content-type-options", "content-disposition")
KINDS = ("html", "svg")
WAYS = ("address", "link", "frame")
FRAME_HOST = "/oat-frame-host"  # a page of the front's origin, answered by Playwright


@dataclass
class Bait:
    kind: str  # "html" or "svg"
    name: str  # its file name in opencode's project
    title: str  # the page's <title>, to tell that it was shown
    marker: Path  # the file its script's terminal creates

    def target(self, project: Path) -> str:
        """How the web app's API serves a file's bytes: /api/fs/read/<path>."""
        query = urllib.parse.urlencode({"location[directory]": str(project)})
        return f"/api/fs/read/{self.name}?{query}"


def _script(server: harness.Server, marker: Path) -> str:
    command = f"touch {marker}; exec sleep 300"  # the terminal stays listed
    body = json.dumps({"command": "sh", "args": ["-c", command]})
    return (
        f"fetch('/pty?' + {json.dumps(server.in_project)}, {{method: 'POST', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}});"
    )


def _page(kind: str, title: str, script: str) -> str:
    if kind == "html":
        return f"<!doctype html><title>{title}</title><p>a page</p><script>{script}</script>"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
        f"<title>{title}</title><script><![CDATA[{script}]]></script></svg>"
    )


@pytest.fixture
def plant(opencode_server: harness.Server) -> Iterator[Callable[[str], Bait]]:
    """Writes baits into opencode's project; afterwards removes them, their markers
    and any terminal that appeared meanwhile (the controls create some)."""
    planted: list[Bait] = []
    before = opencode_server.ptys()

    def make(kind: str) -> Bait:
        nonce = secrets.token_hex(4)
        bait = Bait(
            kind, f"oat-bait-{nonce}.{kind}", f"bait {nonce}", opencode_server.home / f"ran-{nonce}"
        )
        script = _script(opencode_server, bait.marker)
        (opencode_server.project / bait.name).write_text(_page(kind, bait.title, script))
        planted.append(bait)
        return bait

    try:
        yield make
    finally:
        for bait in planted:
            (opencode_server.project / bait.name).unlink(missing_ok=True)
            bait.marker.unlink(missing_ok=True)
        for pty in opencode_server.ptys() - before:
            opencode_server.remove_pty(pty)


@dataclass
class Watch:
    """What the browser asked for and the headers of the answers it got."""

    requests: list[tuple[str, str]]  # (method, path)
    headers: dict[str, list[dict[str, str]]]  # path -> the answers' headers

    def terminal_requests(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if p.startswith(("/pty", "/api/pty"))]


def _watch(context: Any) -> Watch:
    watch = Watch([], {})

    def request(req: Any) -> None:
        watch.requests.append((req.method, urllib.parse.urlsplit(req.url).path))

    def response(resp: Any) -> None:
        path = urllib.parse.urlsplit(resp.url).path
        watch.headers.setdefault(path, []).append(dict(resp.headers))

    context.on("request", request)
    context.on("response", response)
    return watch


def _serve_frame_host(page: Any, base: str, baits: dict[str, str]) -> None:
    """`base + FRAME_HOST?name=<bait>`: a page of the front's own origin framing that
    bait's URL. Playwright answers it; the frame's request goes out as usual."""

    def answer(route: Any) -> None:
        name = urllib.parse.parse_qs(urllib.parse.urlsplit(route.request.url).query)["name"][0]
        html = f'<!doctype html><title>host</title><iframe src="{baits[name]}"></iframe>'
        route.fulfill(status=200, content_type="text/html", body=html)

    page.route(lambda url: url.startswith(base + FRAME_HOST + "?"), answer)


def _open(page: Any, way: str, url: str, base: str, name: str) -> None:
    """Bring the browser to `url` one way (for "link", the link page is the one shown)."""
    from playwright.sync_api import Error

    if way == "address":
        try:
            page.goto(url)
        except Error as exc:  # the answer is a file: no page, a download
            if "Download is starting" not in str(exc):
                raise
    elif way == "link":
        page.click(f"a[data-name='{name}']")
    else:
        page.goto(f"{base}{FRAME_HOST}?name={name}")


def _link_page(urls: dict[str, str]) -> str:
    links = "".join(f'<a data-name="{n}" href="{u}">{n}</a><br>' for n, u in urls.items())
    return f"<!doctype html><title>elsewhere</title>{links}"


def _each_way(
    page: Any, base: str, baits: list[tuple[str, Bait]], urls: dict[str, str]
) -> Iterator[tuple[str, Bait, Callable[[], None]]]:
    """(way, bait, open it) for each attempt; the link page (a sibling origin on
    loopback) is shown before each link is clicked."""
    _serve_frame_host(page, base, urls)
    with harness.serve_page(_link_page(urls)) as port:
        for way, bait in baits:
            if way == "link":
                page.goto(f"http://127.0.0.1:{port}/")
            yield way, bait, functools.partial(_open, page, way, urls[bait.name], base, bait.name)


def _downloaded_or_ran(downloads: list[str], seen: int, bait: Bait) -> bool:
    return len(downloads) > seen or bait.marker.exists()


def _more_than(items: list[str], seen: int) -> bool:
    return len(items) > seen


def test_project_pages_run_when_opencode_serves_them_bare(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    plant: Callable[[str], Bait],
) -> None:
    """The control: opencode itself, with its password, serves the bait as a page
    (text/html, image/svg+xml; no policy), and the script runs in each way -
    it creates a terminal that runs a command."""
    baits = [(way, plant(kind)) for way in WAYS for kind in KINDS]
    urls = {b.name: opencode_server.url + b.target(opencode_server.project) for _, b in baits}
    before = opencode_server.ptys()
    with harness.browser(playwright, chromium, harness.password_login(opencode_server)) as context:
        page = context.new_page()

        for way, bait, open_it in _each_way(page, opencode_server.url, baits, urls):
            open_it()
            harness.wait_until(
                bait.marker.exists, f"{way}/{bait.kind}: the marker", pause=harness.page_pause(page)
            )
    assert all(bait.marker.exists() for _, bait in baits)
    assert len(opencode_server.ptys() - before) == len(baits)


def test_project_pages_never_run_through_the_front(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    every_front: harness.Front,
    tokens: harness.Tokens,
    plant: Callable[[str], Bait],
) -> None:
    """Through the gateway, nginx and Caddy, with a full token: each way ends in a
    download of the file (Content-Disposition: attachment), under the sandbox
    policy and nosniff; no script runs, no terminal is asked for."""
    front = every_front
    baits = [(way, plant(kind)) for way in WAYS for kind in KINDS]
    urls = {b.name: front.url + b.target(opencode_server.project) for _, b in baits}
    before = opencode_server.ptys()
    with harness.browser(playwright, chromium) as context:
        page = context.new_page()
        harness.sign_in(page, front.url, tokens.secrets["rwx"], "/path")
        mark = front.mark()
        watch = _watch(context)
        downloads: list[str] = []
        page.on("download", lambda d: downloads.append(d.url))
        for way, bait, open_it in _each_way(page, front.url, baits, urls):
            seen = len(downloads)
            open_it()
            harness.wait_until(
                functools.partial(_downloaded_or_ran, downloads, seen, bait),
                f"{way}/{bait.kind}: a download",
                pause=harness.page_pause(page),
            )
        page.wait_for_timeout(300)  # any request a script made has been reported
    rows = front.settle(mark)

    assert [f"{w}/{b.kind}" for w, b in baits if b.marker.exists()] == []
    assert opencode_server.ptys() == before
    assert watch.terminal_requests() == []
    assert [r for r in rows if "/pty" in r["path"]] == []
    assert downloads == [urls[b.name] for _, b in baits]
    for _, bait in baits:
        path = urllib.parse.urlsplit(urls[bait.name]).path
        answers = watch.headers[path]
        assert answers, bait.name
        for headers in answers:
            assert headers["content-security-policy"] == SANDBOX
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["content-disposition"] == "attachment"
        # the browser held a session of the token: the front served the file to it
        served = [r for r in rows if r["path"] == path and r["status"] == 200]
        assert served and {r["token_id"] for r in served} == {tokens.ids["rwx"]}


@pytest.mark.parametrize(
    ("removed", "runs"),
    [
        pytest.param(SAFETY_HEADERS, True, id="no-safety-headers"),
        pytest.param(("content-disposition",), False, id="sandbox-only"),
    ],
)
def test_the_headers_are_what_stops_the_page(
    playwright: Any,
    chromium: str,
    opencode_server: harness.Server,
    every_front: harness.Front,
    tokens: harness.Tokens,
    plant: Callable[[str], Bait],
    removed: tuple[str, ...],
    runs: bool,
) -> None:
    """The front's real answer, with `removed` taken off in the browser, opened from
    the address bar with a full token. Without any of the three, the script runs
    on the front's own origin - the browser's session makes the terminal. Without
    only `attachment`, the page is shown, but the sandbox blocks its script."""
    front = every_front
    baits = [plant(kind) for kind in KINDS]
    before = opencode_server.ptys()
    with harness.browser(playwright, chromium) as context:
        page = context.new_page()
        harness.sign_in(page, front.url, tokens.secrets["rwx"], "/path")
        watch = _watch(context)
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "sandboxed" in m.text else None)
        taken_off: list[set[str]] = []

        def strip(route: Any) -> None:
            answer = route.fetch()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in removed}
            taken_off.append({k.lower() for k in answer.headers} - {k.lower() for k in kept})
            route.fulfill(response=answer, headers=kept)

        for bait in baits:
            url = front.url + bait.target(opencode_server.project)
            page.route(functools.partial(str.__eq__, url), strip)  # no glob: the URL as is
            seen = len(blocked)
            answer = page.goto(url)
            assert answer is not None and answer.status == 200
            assert taken_off[-1] == set(removed)  # the front had sent each of them
            if bait.kind == "html":
                assert page.title() == bait.title  # shown as a page, not downloaded
            if runs:
                harness.wait_until(bait.marker.exists, "the marker", pause=harness.page_pause(page))
            else:
                harness.wait_until(
                    functools.partial(_more_than, blocked, seen),
                    "Chromium's 'Blocked script execution ... sandboxed'",
                    pause=harness.page_pause(page),
                )
        page.wait_for_timeout(300)  # any request the scripts made has been reported
    created = opencode_server.ptys() - before
    if runs:
        assert all(bait.marker.exists() for bait in baits)
        assert len(created) == len(baits)
        assert ("POST", "/pty") in watch.terminal_requests()
    else:
        assert [b.name for b in baits if b.marker.exists()] == []
        assert created == set()
        assert watch.terminal_requests() == []
