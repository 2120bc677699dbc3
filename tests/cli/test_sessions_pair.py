"""`session list|end`, `token logout`, `token show` with sessions, and `pair --url`:
the link, its QR code, one-line errors, exit codes - and never the token's secret."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from core.model.token_format import PAIRING_PREFIX, check_format, digest
from core.present import cell_width
from tests.cli.conftest import Cli, assert_one_line_error

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
LINK = re.compile(r"^    (https?://[^/\s]+/_auth/pair\?code=(ocpair_[0-9A-Za-z]{28}))$", re.M)
ANY_SECRET = re.compile(r"oc(at|sess)_[0-9A-Za-z]{20,}")


def signed_in(cli: Cli, name: str, count: int = 1, **kw: str | None) -> list[str]:
    """`count` browser sessions of the token `name`, as the gateway makes them."""
    store = cli.core()
    return [
        store.create_session(
            name, client=kw.get("client", "192.0.2.7"), user_agent=kw.get("user_agent", UA)
        ).record.id
        for _ in range(count)
    ]


# --- session list --------------------------------------------------------------------------


def test_session_list_without_sessions_says_how_they_begin(cli: Cli) -> None:
    result = cli("session", "list")
    assert result.code == 0 and result.out == ""
    assert "No browser sessions" in result.err and "/_auth/login" in result.err
    assert json.loads(cli("session", "list", "--json").out) == []


def test_session_list_is_a_table_that_fits_80_columns(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    cli("token", "create", "--name", "a name far longer than any column could hold")
    (phone,) = signed_in(cli, "phone", client="2001:db8:85a3::8a2e:370:7334")
    (other,) = signed_in(
        cli, "a name far longer than any column could hold", user_agent="evil\x1b[2J\x07 UA"
    )
    result = cli("session", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "TOKEN", "LAST", "SEEN", "FROM", "EXPIRES"]
    assert all(cell_width(line) <= 80 for line in lines), lines
    assert lines[1].startswith(f"{phone}  phone") and "not yet" in lines[1]
    assert "in 30 days" in lines[1] and "2001:db8:85a3:…" in lines[1]
    assert "via the login page" in lines[2] and "Mozilla/5.0 (iPhone" in lines[2]
    assert lines[3].startswith(other) and "a name far longer" in lines[3]
    assert "\x1b" not in result.out and "\\x1b[2J\\x07 UA" in lines[4]  # escaped


def test_session_list_json(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    store = cli.core()
    issued = store.create_session("phone", client="192.0.2.7", user_agent=UA)
    data = json.loads(cli("session", "list", "--json").out)
    assert data == [
        {
            "id": issued.record.id,
            "token_id": issued.record.token_id,
            "token_name": "phone",
            "created_at": data[0]["created_at"],
            "expires_at": data[0]["expires_at"],
            "last_seen_at": None,
            "client": "192.0.2.7",
            "user_agent": UA,
            "via": "login",
            "status": "active",
        }
    ]
    assert issued.secret.reveal() not in cli("session", "list", "--json").out
    picked = json.loads(cli("session", "list", "--json", "id,token_name").out)
    assert picked == [{"id": issued.record.id, "token_name": "phone"}]
    assert_one_line_error(cli("session", "list", "--json", "digest"), 2, "unknown field digest")


# --- session end, token logout ----------------------------------------------------------------


def test_session_end_ends_one_session(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    first, second = signed_in(cli, "phone", 2)
    result = cli("session", "end", first)
    assert result.code == 0, result.err
    assert (
        result.out == f"Ended session {first} of token 'phone' (id {cli.core().get('phone').id})\n"
    )
    assert [s.id for s in cli.core().sessions()] == [second]
    before = cli.bytes()
    assert_one_line_error(cli("session", "end", second, "zzzzzzzz"), 1, "no session with id")
    assert cli.bytes() == before  # all or nothing
    assert [s.id for s in cli.core().sessions()] == [second]


def test_a_session_secret_pasted_into_session_end_is_not_echoed(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    secret = cli.core().create_session("phone", client=None, user_agent=None).secret.reveal()
    result = cli("session", "end", secret)
    assert_one_line_error(result, 1, "looks like a secret")
    assert secret not in result.err and secret[7:] not in result.err
    usage = cli("session", "list", secret)  # a usage error: redacted too
    assert_one_line_error(usage, 2, "ocsess_…(redacted)")
    assert secret not in usage.err


def test_token_logout_ends_every_session_of_the_token(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    cli("token", "create", "--name", "laptop")
    signed_in(cli, "phone", 2)
    (laptop,) = signed_in(cli, "laptop")
    token_id = cli.core().get("phone").id
    result = cli("token", "logout", "PHONE")
    assert result.code == 0, result.err
    assert result.out == f"Ended 2 sessions of token 'phone' (id {token_id})\n"
    assert [s.id for s in cli.core().sessions()] == [laptop]
    again = cli("token", "logout", "phone")
    assert again.code == 0 and again.out == "" and "has no browser sessions" in again.err
    assert_one_line_error(cli("token", "logout", "nope"), 1, "no token with id or name 'nope'")
    assert cli.core().get("phone").name == "phone"  # the token itself stays


def test_token_edit_says_it_ended_sessions(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    signed_in(cli, "phone", 2)
    renamed = cli("token", "edit", "phone", "--note", "blue")
    assert renamed.code == 0 and "Ended" not in renamed.err
    narrowed = cli("token", "edit", "phone", "--permissions", "read")
    assert narrowed.code == 0 and "Ended 2 browser sessions of the token." in narrowed.err
    assert cli.core().sessions() == ()


# --- token show, token list ---------------------------------------------------------------


def test_token_show_lists_the_tokens_sessions(cli: Cli) -> None:
    cli("token", "create", "--name", "phone")
    cli("token", "create", "--name", "other")
    assert "sessions     none" in cli("token", "show", "phone").out
    (session,) = signed_in(cli, "phone", user_agent="Firefox\x1b]0;x\x07")
    signed_in(cli, "other")
    shown = cli("token", "show", "phone")
    assert shown.code == 0
    lines = shown.out.splitlines()
    at = lines.index("sessions     1 browser signed in")
    assert lines[at + 1].startswith(f"  {session}  from 192.0.2.7, last seen not yet, ends in")
    assert lines[at + 2].strip() == "signed in just now via the login page; Firefox\\x1b]0;x\\x07"
    assert all(cell_width(line) <= 80 for line in lines[at:])
    data = json.loads(cli("token", "show", "phone", "--json").out)
    assert [s["id"] for s in data["sessions"]] == [session]
    assert data["sessions"][0]["token_name"] == "phone" and "digest" not in data["sessions"][0]
    picked = json.loads(cli("token", "show", "phone", "--json", "name,sessions").out)
    assert set(picked) == {"name", "sessions"}
    assert_one_line_error(cli("token", "list", "--json", "sessions"), 2, "unknown field sessions")


def test_last_used_from_is_shown(cli: Cli) -> None:
    cli("token", "create", "--name", "ci")
    store = cli.core()
    store.record_usage({store.get("ci").id: (store.now() - timedelta(minutes=5), "198.51.100.4")})
    (listed,) = json.loads(cli("token", "list", "--json").out)
    assert listed["last_used_from"] == "198.51.100.4"
    assert "from 198.51.100.4" in cli("token", "show", "ci").out
    assert json.loads(cli("token", "list", "--json", "last_used_from").out) == [
        {"last_used_from": "198.51.100.4"}
    ]


# --- pair --------------------------------------------------------------------------------


def _link(out: str) -> tuple[str, str]:
    found = LINK.search(out)
    assert found is not None, out
    return found.group(1), found.group(2)


def test_pair_makes_a_device_token_and_a_one_time_link(cli: Cli) -> None:
    result = cli("pair", "--url", "https://opencode.example:4097")
    assert result.code == 0, result.err
    link, code = _link(result.out)
    assert link.startswith("https://opencode.example:4097/_auth/pair?code=ocpair_")
    assert check_format(code, PAIRING_PREFIX) is None
    assert result.out.startswith("Created token 'device-1' (id ")
    assert "read, write, execute" in result.out and "in 30 days" in result.out
    assert "works once, within 5 minutes" in result.err and "token logout" in result.err
    # never the token's secret: nothing that looks like one, anywhere
    assert ANY_SECRET.search(result.out + result.err) is None
    assert "█" not in result.out  # not a terminal: no QR code unless asked
    store = cli.core()
    token = store.get("device-1")
    assert [p.value for p in token.permissions] == ["read", "write", "execute"]
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - token.created_at <= timedelta(days=30)
    (pairing,) = store.load().pairings
    assert pairing.digest == digest(code) and pairing.token_id == token.id
    assert code not in cli.store.read_text()  # only its digest is stored
    # the link signs a browser in once
    assert store.pairing_state(code).state == "valid"
    session = store.consume_pairing(code, client="192.0.2.50", user_agent=UA)
    assert session.record.token_id == token.id and session.record.via == "pairing"
    assert store.pairing_state(code).state == "unknown"
    # the next device gets the next name
    again = cli("pair", "--url", "http://127.0.0.1:4097")
    assert again.code == 0 and "'device-2'" in again.out
    assert "clear text" not in again.err  # loopback: no warning


def test_pair_takes_the_token_options(cli: Cli) -> None:
    result = cli(
        "pair",
        "--url",
        "https://[2001:db8::1]:8443/",
        "--name",
        "tablet",
        "--permissions",
        "read",
        "--expires",
        "7d",
        "--directory",
        "/srv/app",
    )
    assert result.code == 0, result.err
    link, _ = _link(result.out)
    assert link.startswith("https://[2001:db8::1]:8443/_auth/pair?code=")
    token = cli.core().get("tablet")
    assert [p.value for p in token.permissions] == ["read"]
    assert token.directories == ("/srv/app",)
    assert token.expires_at is not None
    assert token.expires_at - token.created_at == timedelta(days=7)


def test_pair_json(cli: Cli) -> None:
    result = cli("pair", "--url", "https://h:4097", "--json", "--qr")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {"token", "link", "link_expires_at"}
    assert data["token"]["name"] == "device-1" and "digest" not in data["token"]
    assert "token" not in data["token"]  # the record, never the secret
    assert data["link"].startswith("https://h:4097/_auth/pair?code=ocpair_")
    assert ANY_SECRET.search(result.out + result.err) is None


def _qr_matrix(lines: list[str]) -> list[tuple[int, ...]]:
    """segno's compact terminal output read back: each character is two modules,
    top and bottom (light is a full block, dark a space: light on dark)."""
    halves = {" ": (1, 1), "\u2580": (0, 1), "\u2584": (1, 0), "\u2588": (0, 0)}
    rows: list[tuple[int, ...]] = []
    for line in lines:
        pairs = [halves[ch] for ch in line]
        rows.append(tuple(top for top, _ in pairs))
        rows.append(tuple(bottom for _, bottom in pairs))
    return rows


@pytest.mark.parametrize("how", ["terminal", "--qr"])
def test_pair_prints_a_qr_code_of_the_link(cli: Cli, how: str) -> None:
    import segno

    if how == "terminal":
        result = cli("pair", "--url", "https://opencode.example:4097", stdout_tty=True)
    else:
        result = cli("pair", "--url", "https://opencode.example:4097", "--qr")
    assert result.code == 0, result.err
    link, _ = _link(result.out)
    art = [line for line in result.out.splitlines() if line and set(line) <= set(" ▀▄█")]
    assert art, result.out
    assert max(len(line) for line in art) <= 80 and len(art) <= 24  # fits 80x24
    printed = _qr_matrix(art)
    expected = list(segno.make(link, error="m", micro=False).matrix_iter(scale=1, border=4))
    assert len(printed) in (len(expected), len(expected) + 1)  # an odd row count is padded
    assert printed[: len(expected)] == [tuple(row) for row in expected]
    # and not the code of anything else (another link, another error level)
    other = list(segno.make(link + "x", error="m", micro=False).matrix_iter(scale=1, border=4))
    assert printed[: len(other)] != [tuple(row) for row in other]


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("ftp://host", "not an http:// or https:// URL"),
        ("host:4097", "not an http:// or https:// URL"),
        ("https://", "not an http:// or https:// URL"),
        ("", "--url is empty"),
        ("https://user:pw@host", "user name or password"),
        ("https://host/opencode", "path, query or fragment"),
        ("https://host?x=1", "path, query or fragment"),
        ("https://host#top", "path, query or fragment"),
        ("https://host:0", "port is not a number from 1 to 65535"),
        ("https://host:99999", "port is not a number from 1 to 65535"),
        ("https://host:http", "port is not a number from 1 to 65535"),
        ("https://ho st", "spaces or control characters"),
        ("https://host\x1b[2J", "spaces or control characters"),
        ("https://:4097", "has no host"),
    ],
)
def test_pair_refuses_a_bad_url_in_one_line_and_creates_nothing(
    cli: Cli, url: str, text: str
) -> None:
    result = cli("pair", "--url", url)
    assert_one_line_error(result, 2, text)
    assert not cli.store.exists()


def test_pair_over_plain_http_warns(cli: Cli) -> None:
    result = cli("pair", "--url", "http://opencode.lan:4097")
    assert result.code == 0
    assert "warning: the link is http://" in result.err


def test_pair_refuses_bad_token_options_before_anything_is_made(cli: Cli) -> None:
    assert_one_line_error(
        cli("pair", "--url", "https://h", "--permissions", "admin"), 2, "permissions"
    )
    assert_one_line_error(cli("pair", "--url", "https://h", "--expires", "-1d"), 2, "expir")
    cli("token", "create", "--name", "taken")
    before = cli.bytes()
    assert_one_line_error(cli("pair", "--url", "https://h", "--name", "taken"), 2, "already")
    assert cli.bytes() == before
    assert_one_line_error(cli("pair"), 2, "--url")


def test_the_session_commands_are_in_the_help(cli: Cli) -> None:
    top = cli("--help").out
    assert "pair" in top and "session" in top
    assert "logout" in cli("token", "--help").out
    assert cli("session").code == 2  # a group alone: its help, exit 2
