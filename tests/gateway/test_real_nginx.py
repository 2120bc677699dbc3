"""nginx `auth_request` (and Caddy `forward_auth`) -> `opencode-auth-tui forward-auth`
-> opencode (or the fake opencode when the real one is not installed): the same
allow/deny matrix as the gateway. Skipped, with a message, when the proxy is not
installed."""

from __future__ import annotations

import json

import pytest

from core.store import TokenStore
from tests.gateway.conftest import Tokens, bad_checksum
from tests.gateway.real_servers import Nginx, request

pytestmark = pytest.mark.nginx


@pytest.fixture(params=["nginx", "caddy"])
def front(request: pytest.FixtureRequest) -> Nginx:
    return request.getfixturevalue(f"{request.param}_front")  # type: ignore[no-any-return]


def call(
    front: Nginx, method: str, path: str, token: str | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    all_headers = dict(headers)
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    return request(front.url, method, path, all_headers, body)


MATRIX = [
    ("GET", "/global/health", None, 200),
    ("GET", "/path", "r", 200),
    ("GET", "/config", "r", 403),  # the config can hold API keys
    ("GET", "/config", "rx", 200),
    ("GET", "/session", "r", 403),
    ("POST", "/session", "r", 403),
    ("GET", "/session", "rx", 200),
    ("POST", "/session", "rx", 403),
    ("POST", "/session", "wx", 200),
    ("GET", "/session?limit=1", "rwx", 200),
    ("GET", "/global/../session", "r", 403),
    ("GET", "/%73ession", "r", 403),
    ("GET", "/path", None, 401),
    ("GET", "/path", "expired", 401),
]


@pytest.mark.parametrize(("method", "path", "token", "status"), MATRIX)
def test_matrix_through_nginx(
    front: Nginx, real_tokens: Tokens, method: str, path: str, token: str | None, status: int
) -> None:
    secret = real_tokens.secrets[token] if token else None
    got, headers, body = call(front, method, path, secret)
    assert got == status, (front.upstream_kind, body[:200])
    if status == 200 and token and front.proxy == "nginx":  # the example adds it for logs
        assert headers["x-auth-token-id"] == real_tokens.ids[token]
    if status == 401:  # Basic first, so a browser prompts (nginx passes only that one)
        assert headers["www-authenticate"].startswith('Basic realm="opencode"')
    if method == "POST" and status == 200 and front.upstream_kind == "opencode":
        assert json.loads(body)["id"].startswith("ses")


def test_bad_checksum_and_deleted_tokens(front: Nginx, real_tokens: Tokens) -> None:
    status, headers, _ = call(front, "GET", "/path", bad_checksum(real_tokens.secrets["r"]))
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic")
    store = TokenStore(real_tokens.path)
    issued = store.create(name="nginx-short", permissions="read", expires="1d")
    assert call(front, "GET", "/path", issued.secret.reveal())[0] == 200
    store.delete([issued.record.id])
    assert call(front, "GET", "/path", issued.secret.reveal())[0] == 401


def test_a_client_cannot_smuggle_its_own_original_request_headers(
    front: Nginx, real_tokens: Tokens
) -> None:
    # A read token pretending its POST /session is a GET /config.
    status, _, _ = call(
        front,
        "POST",
        "/session",
        real_tokens.secrets["r"],
        **{
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": "/config",
            "X-Original-Method": "GET",
            "X-Original-URI": "/config",
        },
    )
    assert status == 403
