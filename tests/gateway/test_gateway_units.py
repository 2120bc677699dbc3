"""The pure pieces: flags, addresses, credentials, subprotocols, headers, the CLI hook."""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from core.gateway import settings as st
from core.gateway.forward_auth import OriginalRequestError, original_request
from core.gateway.guard import split_subprotocols
from core.gateway.headers import downstream_response_headers, upstream_request_headers


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("127.0.0.1:4097", "127.0.0.1", 4097, True),
        ("4097", "127.0.0.1", 4097, True),
        ("[::1]:8080", "::1", 8080, True),
        ("localhost:1", "localhost", 1, True),
        ("0.0.0.0:80", "0.0.0.0", 80, False),
        ("[::]:80", "::", 80, False),
        ("192.168.1.5:0", "192.168.1.5", 0, False),
    ],
)
def test_parse_listen(text: str, host: str, port: int, loopback: bool) -> None:
    address = st.parse_listen(text)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["", "host", ":80", "[::1]80", "h:port", "h:70000", "::1:80"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(st.SettingsError):
        st.parse_listen(text)


def test_parse_upstream() -> None:
    assert st.parse_upstream("http://127.0.0.1:4096/") == "http://127.0.0.1:4096"
    assert st.parse_upstream("https://h/prefix/") == "https://h/prefix"
    for bad in ("127.0.0.1:4096", "ws://h", "http://u:p@h", "http://h/?q=1", "http://h:x"):
        with pytest.raises(st.SettingsError):
            st.parse_upstream(bad)


def test_upstream_credentials_come_from_the_environment_only() -> None:
    assert st.upstream_authorization({}) is None
    assert st.upstream_authorization({"OPENCODE_SERVER_PASSWORD": ""}) is None
    value = st.upstream_authorization({"OPENCODE_SERVER_PASSWORD": "pw"})
    assert value == "Basic " + base64.b64encode(b"opencode:pw").decode()
    value = st.upstream_authorization(
        {"OPENCODE_SERVER_PASSWORD": "pw", "OPENCODE_SERVER_USERNAME": "me"}
    )
    assert value == "Basic " + base64.b64encode(b"me:pw").decode()


def test_split_subprotocols() -> None:
    s = split_subprotocols("bearer, ocat_abc")
    assert (s.token, s.bearer, s.others) == ("ocat_abc", "bearer", ())
    s = split_subprotocols("Bearer,ocat_abc, tty")
    assert (s.token, s.bearer, s.others) == ("ocat_abc", "Bearer", ("tty",))
    s = split_subprotocols("tty")
    assert (s.token, s.bearer, s.others) == (None, None, ("tty",))
    s = split_subprotocols("bearer")
    assert (s.token, s.bearer) == (None, "bearer")
    assert split_subprotocols(None).token is None


def test_forward_auth_takes_a_bearer_token_only_where_the_proxy_configs_remove_it() -> None:
    """nginx's map and Caddy's header_up strip `bearer, <token>` only at the start of
    the header: a token later in the list would reach opencode, so forward-auth
    does not take it (the request is decided without credentials)."""
    s = split_subprotocols("chat, bearer, ocat_abc", leading=True)
    assert (s.token, s.bearer, s.others) == (None, None, ("chat", "bearer", "ocat_abc"))
    s = split_subprotocols(" Bearer , ocat_abc, chat", leading=True)
    assert (s.token, s.bearer, s.others) == ("ocat_abc", "Bearer", ("chat",))
    # the gateway rebuilds the list it forwards, so it takes the token anywhere
    assert split_subprotocols("chat, bearer, ocat_abc").token == "ocat_abc"


def _proxy(pairs: list[tuple[str, str]]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_original_request_headers() -> None:
    assert original_request(
        _proxy([("X-Original-Method", "POST"), ("X-Original-URI", "/session?x=1")])
    ) == ("POST", "/session?x=1")
    assert original_request(
        _proxy([("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/vcs")])
    ) == ("GET", "/vcs")
    # both families agreeing is fine
    assert original_request(
        _proxy(
            [
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/a"),
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/a"),
            ]
        )
    ) == ("GET", "/a")
    for bad in (
        [("X-Original-URI", "/a")],  # no method: never guessed
        [("X-Original-Method", "GET")],
        [
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/vcs"),
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/session"),
        ],
        [("X-Original-Method", "GET"), ("X-Original-Method", "POST"), ("X-Original-URI", "/")],
    ):
        with pytest.raises(OriginalRequestError):
            original_request(_proxy(bad))


def test_header_filtering() -> None:
    incoming = _proxy(
        [
            ("Host", "gw"),
            ("Authorization", "Bearer ocat_x"),
            ("Connection", "keep-alive, X-Drop, Content-Length"),
            ("X-Drop", "1"),
            ("Content-Length", "3"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Accept", "a"),
            ("Accept", "b"),
            ("X-Forwarded-Host", "spoofed"),
        ]
    )
    out = upstream_request_headers(
        incoming, authorization="Basic Zm9v", client_ip="10.0.0.1", scheme="https"
    )
    assert out["Authorization"] == "Basic Zm9v"
    assert out.getall("Accept") == ["a", "b"]
    assert out["Content-Length"] == "3"
    assert out["X-Forwarded-For"] == "10.0.0.1"
    assert out["X-Forwarded-Proto"] == "https"
    assert out["X-Forwarded-Host"] == "gw"
    assert out["Host"] == "gw"  # kept: opencode compares it with Origin for PTY tickets
    for gone in ("Connection", "X-Drop", "Transfer-Encoding", "Upgrade"):
        assert gone not in out
    out = upstream_request_headers(incoming, authorization=None, client_ip=None, scheme="http")
    assert "Authorization" not in out
    back = downstream_response_headers(
        _proxy([("Keep-Alive", "5"), ("Content-Length", "9"), ("Set-Cookie", "a=1")])
    )
    assert list(back.items()) == [("Set-Cookie", "a=1")]


def test_every_option_has_help() -> None:
    from core.cli.gateway import register

    parser = argparse.ArgumentParser(prog="opencode-auth-tui")
    sub = parser.add_subparsers()
    register(sub)
    for name in ("gateway", "forward-auth"):
        command = sub.choices[name]
        assert command.description
        for action in command._actions:
            assert action.help, (name, action.option_strings)
        text = command.format_help()
        assert "--listen" in text and "--access-log" in text
    assert "--upstream-timeout" in sub.choices["gateway"].format_help()
    assert "--allow-non-loopback" in sub.choices["forward-auth"].format_help()


_BLOCK_AIOHTTP = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "aiohttp" or name.startswith("aiohttp."):
            raise ImportError("No module named 'aiohttp' (blocked by the test)")
sys.meta_path.insert(0, Block())
"""


def test_the_cli_module_imports_without_aiohttp() -> None:
    code = _BLOCK_AIOHTTP + (
        "import core.cli.gateway, core.cli.serve, core.gateway.settings\n"
        "assert not any(m.startswith('aiohttp') for m in sys.modules), 'aiohttp imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@pytest.mark.parametrize("command", ["gateway", "forward-auth"])
def test_without_aiohttp_the_commands_say_what_to_install(command: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = _BLOCK_AIOHTTP + (
        "from core.cli import main\n"
        f"sys.exit(main(['--store', {str(tmp_path / 's.json')!r}, {command!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "opencode-auth-tui: error: the gateway needs aiohttp: "
        "pip install 'opencode-auth-tui[gateway]' "
        "(from a clone of the repository: pip install '.[gateway]')"
    ]
