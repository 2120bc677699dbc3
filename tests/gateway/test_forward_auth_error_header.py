"""forward-auth puts each refusal's JSON body in `X-Auth-Error` as well, so that
nginx (whose `auth_request` drops the body) can answer with it: the header is the
body, ASCII, small enough for nginx's header buffer, and never holds credentials.
The same through the real nginx: tests/gateway/test_real_nginx.py."""

from __future__ import annotations

import base64
import json
import urllib.parse

import aiohttp

from core.gateway.forward_auth import ERROR_HEADER, ERROR_HEADER_LIMIT, error_header_value
from tests.gateway.conftest import Tokens, bad_checksum
from tests.gateway.test_forward_auth import forward_auth, nginx


async def _ask(
    client: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, str | None, bytes]:
    async with client.get(url, headers=headers) as resp:
        return resp.status, resp.headers.get(ERROR_HEADER), await resp.read()


def _limited(tokens: Tokens, directory: str) -> str:
    issued = tokens.store.create(
        name=f"only-{len(directory)}-{directory[-8:]!r}",
        permissions="read",
        directories=[directory],
    )
    return issued.secret.reveal()


async def test_every_refusal_carries_its_body_in_the_header(tokens: Tokens) -> None:
    limited = _limited(tokens, "/srv/app")
    basic = base64.b64encode(f"opencode:{tokens.secrets['r']}".encode()).decode()
    cases = [
        (nginx("GET", "/vcs"), 401, "missing_token"),
        ({**nginx("GET", "/vcs"), "Authorization": "Bearer not-a-token"}, 401, "malformed"),
        (
            {
                **nginx("GET", "/vcs"),
                "Authorization": "Bearer " + bad_checksum(tokens.secrets["r"]),
            },
            401,
            "bad_checksum",
        ),
        ({**nginx("GET", "/vcs"), **tokens.bearer("expired")}, 401, "expired"),
        ({**nginx("GET", "/session"), **tokens.bearer("r")}, 403, "insufficient_scope"),
        ({**nginx("TRACE", "/vcs"), **tokens.bearer("rwx")}, 403, "method_not_allowed"),
        (
            {**nginx("GET", "/file?directory=/srv/other"), "Authorization": f"Bearer {limited}"},
            403,
            "directory_not_allowed",
        ),
        (
            {**nginx("GET", "/file?directory=relative"), "Authorization": f"Bearer {limited}"},
            400,
            "bad_directory",
        ),
        (nginx("GET", f"/vcs?auth_token={basic}"), 401, "url_credentials"),
        ({"X-Original-URI": "/vcs", **tokens.bearer("r")}, 400, "bad_request"),
    ]
    async with forward_auth(tokens) as (url, client):
        for headers, status, reason in cases:
            got, header, body = await _ask(client, url, headers)
            assert (got, json.loads(body)["error"]) == (status, reason), (headers, body)
            assert header is not None, reason
            assert json.loads(header) == json.loads(body), reason
            assert header == body.decode(), reason  # the same bytes: an ASCII body


async def test_an_unreadable_store_is_503_with_the_header(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        tokens.path.write_text("[1, 2")
        status, header, body = await _ask(
            client, url, {**nginx("GET", "/vcs"), **tokens.bearer("r")}
        )
    assert status == 503
    assert header is not None and json.loads(header) == json.loads(body)
    assert json.loads(body)["error"] == "store_unavailable"
    assert str(tokens.path) not in header  # the operator's log names the file, not the answer


async def test_an_allowed_request_has_no_header(tokens: Tokens) -> None:
    async with forward_auth(tokens) as (url, client):
        for headers in (
            nginx("GET", "/global/health"),
            {**nginx("GET", "/vcs"), **tokens.bearer("r")},
        ):
            status, header, _ = await _ask(client, url, headers)
            assert (status, header) == (200, None)


async def test_the_header_never_holds_the_credentials(tokens: Tokens) -> None:
    """Whatever was sent as credentials - a valid token lacking a permission, a
    mistyped one, an expired one, junk, opencode's own password - the header and
    the body say why, without quoting it."""
    sent = [
        tokens.secrets["r"],
        bad_checksum(tokens.secrets["r"]),
        tokens.secrets["expired"],
        "ocat_" + "x" * 28,
        "opencode-password-canary",
    ]
    async with forward_auth(tokens) as (url, client):
        for secret in sent:
            for authorization in (
                f"Bearer {secret}",
                "Basic " + base64.b64encode(f"opencode:{secret}".encode()).decode(),
            ):
                for target in ("/session", "/pty/pty_1/connect", "/vcs"):
                    headers = {**nginx("GET", target), "Authorization": authorization}
                    status, header, body = await _ask(client, url, headers)
                    if status == 200:
                        continue
                    assert header is not None
                    for text in (header, body.decode()):
                        assert secret not in text and authorization not in text
                        assert authorization.split()[1] not in text
            # ... nor on a WebSocket handshake that brings it as a subprotocol
            headers = {
                **nginx("GET", "/session"),
                "Upgrade": "websocket",
                "Sec-WebSocket-Protocol": f"bearer, {secret}",
            }
            status, header, _ = await _ask(client, url, headers)
            assert status in (401, 403) and header is not None and secret not in header


async def test_a_long_message_is_cut_in_the_middle_to_fit_nginx(tokens: Tokens) -> None:
    directory = "/srv/" + "a" * 3000 + "/end"
    limited = _limited(tokens, "/srv/app")
    target = "/file?directory=" + urllib.parse.quote(directory, safe="/")
    async with forward_auth(tokens) as (url, client):
        status, header, body = await _ask(
            client, url, {**nginx("GET", target), "Authorization": f"Bearer {limited}"}
        )
    full = json.loads(body)
    assert status == 403 and full["message"] == (
        f"{directory} is outside the directories this token may use"
    )
    assert header is not None and len(header) <= ERROR_HEADER_LIMIT
    short = json.loads(header)
    assert {k: v for k, v in short.items() if k != "message"} == {
        k: v for k, v in full.items() if k != "message"
    }
    head, _, tail = short["message"].partition("...")
    assert full["message"].startswith(head) and head.startswith("/srv/aaa")
    assert tail.endswith("/end is outside the directories this token may use")
    assert len(header) > ERROR_HEADER_LIMIT - 16  # cut no more than needed


def test_the_header_is_ascii_without_control_characters() -> None:
    message = 'caf\u00e9 \U0001f600 tab\t nl\n cr\r del\x7f nul\x00 quote" $host'
    value = error_header_value({"error": "x", "message": message})
    assert value.isascii()
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    assert json.loads(value) == {"error": "x", "message": message}


def test_escapes_count_towards_the_limit() -> None:
    for ch in ("a", "\u00e9", "\U0001f600", "\x01", "\x7f"):
        message = ch * 5000 + " is outside"
        value = error_header_value({"error": "x", "message": message}, limit=300)
        assert len(value) <= 300, repr(ch)
        parsed = json.loads(value)["message"]
        assert parsed.startswith(ch) and parsed.endswith(" is outside") and "..." in parsed
