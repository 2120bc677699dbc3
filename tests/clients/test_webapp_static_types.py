"""Every file of opencode's web app reaches the browser with its right Content-Type,
so `X-Content-Type-Options: nosniff` - which the gateway and the proxies' configs
now put on them - breaks none of them (a script or stylesheet under nosniff with
another type is not run), and under the app's own policy, never the API's sandbox.

The files are found as the browser finds them: index.html, then every file that a
script, stylesheet or the manifest names, transitively (about 940 in opencode
1.18.33 - scripts, styles, fonts, icons, sounds). A name that is no file (a word in
a script that looks like one) gets opencode's index.html, and is left out; a bare
name in a script is never followed (scripts name their files with ./ or assets/).
"""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections import Counter

from tests.clients import harness

# What each kind of file must be served as (a MIME essence, parameters aside).
TYPES = {
    "html": {"text/html"},
    "js": {"text/javascript", "application/javascript"},
    "mjs": {"text/javascript", "application/javascript"},
    "css": {"text/css"},
    "json": {"application/json"},
    "webmanifest": {"application/manifest+json"},
    "wasm": {"application/wasm"},
    "woff2": {"font/woff2"},
    "woff": {"font/woff"},
    "ttf": {"font/ttf"},
    "png": {"image/png"},
    "svg": {"image/svg+xml"},
    "ico": {"image/vnd.microsoft.icon", "image/x-icon"},
    "aac": {"audio/aac"},
    "mp3": {"audio/mpeg"},
    "mp4": {"video/mp4"},
}
APP_POLICY = "frame-ancestors 'self'"
# A quoted, url()'d or imported name of a file: "/x.png", "assets/x.js", "./x.js", url(x.woff2)
_NAMED = re.compile(
    rb"(?:(?<=[\"'`(]))(/|\./|/assets/|assets/)?([\w.-]+\.(?:"
    + "|".join(TYPES).encode()
    + rb"))(?=[\"'`)?#])"
)
_READ_FURTHER = (".html", ".js", ".mjs", ".css", ".webmanifest")


def _named_in(path: str, body: bytes) -> set[str]:
    folder = path.rsplit("/", 1)[0]
    found = set()
    for match in _NAMED.finditer(body):
        prefix, name = (match.group(1) or b"").decode(), match.group(2).decode()
        if prefix in ("/assets/", "assets/"):
            found.add("/assets/" + name)
        elif prefix == "./":
            found.add(f"{folder}/{name}")
        elif prefix == "/" or path == "/":
            found.add("/" + name)
        elif not path.endswith((".js", ".mjs")):  # in a script a bare name is a word
            found.add(f"{folder}/{name}")  # in a style, url(x.woff2): next to it
    return found


def _crawl(url: str, authorization: str) -> dict[str, dict[str, str]]:
    """path -> the answer's headers, for every file the app names (one connection)."""
    split = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
    headers = {"Authorization": authorization}
    files: dict[str, dict[str, str]] = {}
    index = b""
    queue, asked = ["/"], {"/"}
    try:
        while queue:
            path = queue.pop()
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            assert answer.status == 200, (path, answer.status)
            if path == "/":
                index = body
            elif body == index:
                continue  # no such file: the app's index.html answers every path
            fields: dict[str, str] = {}
            for name, value in answer.getheaders():
                key = name.lower()
                fields[key] = f"{fields[key]}, {value}" if key in fields else value
            files[path] = fields
            if path == "/" or path.endswith(_READ_FURTHER):
                for named in sorted(_named_in(path, body) - asked):
                    asked.add(named)
                    queue.append(named)
    finally:
        conn.close()
    return files


def _extension(path: str) -> str:
    return "html" if path == "/" else path.rsplit(".", 1)[-1]


def test_every_file_of_the_webapp_has_its_type_under_nosniff(
    every_front: harness.Front, tokens: harness.Tokens
) -> None:
    authorization = "Basic " + harness.basic_credentials(tokens.secrets["rwx"], "anyone")
    files = _crawl(every_front.url, authorization)

    kinds = Counter(_extension(path) for path in files)
    # the app itself was found: its entry script and style, and a good part of the rest
    assert kinds["js"] > 100 and kinds["css"] >= 1 and kinds["woff2"] >= 1, kinds
    wrong = {
        path: fields.get("content-type")
        for path, fields in files.items()
        if (fields.get("content-type") or "").split(";")[0].strip().lower()
        not in TYPES[_extension(path)]
    }
    assert wrong == {}
    assert {p for p, f in files.items() if f.get("x-content-type-options") != "nosniff"} == set()
    # the app's own policy (framed by its own origin only), never the API's sandbox
    for path, fields in files.items():
        policies = fields.get("content-security-policy", "")
        assert APP_POLICY in policies and "sandbox" not in policies, (path, policies)
