"""Signing a browser in: a login page, cookie sessions bound to a token, pairing links.

Everything lives under one path prefix, `/_auth/`, that opencode never routes (no row
of the policy and no path of its OpenAPI document starts with it; a test holds that):

    GET  /_auth/login?next=/path    the form: paste a token
    POST /_auth/login               token + next -> a session cookie, 303 to next
    POST /_auth/logout              the session ended, the cookie cleared, 303 to login
    GET  /_auth/pair?code=ocpair_   a page with one button (looking consumes nothing)
    POST /_auth/pair                code -> a session of the paired token, 303 to /

The cookie holds a random 128-bit session id (`ocsess_...`), never the token; the
store keeps only its digest, with the token id, when it was made and last seen,
from where, by which browser, and until when (never later than the token). A
request with the cookie is decided exactly as its token's own request would be,
and ends with it: deleting, rotating, expiring or narrowing the token ends its
sessions (and the gateway closes their open streams and terminals).

The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
page - a link, a form, an image - makes the browser send it: the safest setting, and
the first navigation from a link elsewhere simply meets the login page, which sees
the cookie and goes on), `Path=/`, and under TLS `Secure` with the `__Host-` prefix
(no subdomain or plain-HTTP page can set or shadow it). State-changing requests with
it must also come from this origin (guard.cross_site), which a sibling origin on the
same host (same site, another port) would otherwise pass.

An HTML navigation without credentials is redirected to the login page with the
path it wanted (same-origin paths only); programs still get 401 and the challenges.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from http.cookies import SimpleCookie
from typing import TypeVar
from urllib.parse import quote, urlencode

from aiohttp import web

from core.authz.authorizer import CachedAuthorizer
from core.gateway.access_log import note
from core.gateway.guard import cross_site
from core.gateway.pages import PAGE_POLICY, login_page, message_page, pairing_page
from core.model.errors import AuthTuiError, PairingInvalid, StoreError
from core.store import Store

PREFIX = "/_auth/"
LOGIN = PREFIX + "login"
LOGOUT = PREFIX + "logout"
PAIR = PREFIX + "pair"
COOKIE = "oat_session"
SECURE_COOKIE = "__Host-oat_session"
MAX_FORM = 8 * 1024
"""The largest sign-in form accepted (a token, a path and a code fit many times over)."""

_PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not `no-referrer`: under it a browser sends `Origin: null` on the page's own
    # form POST, which the cross-site check refuses. `strict-origin` sends the origin
    # (never the path: a pairing page's URL holds its code).
    "Referrer-Policy": "strict-origin",
    "Cache-Control": "no-store",
}
T = TypeVar("T")


def owns(raw_path: str) -> bool:
    """The request is for one of the sign-in pages (by its exact prefix)."""
    return raw_path.startswith(PREFIX)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this origin, else `/`.

    Only `/something`: never `//host` or `/\\host` (browsers read both as another
    host), never a scheme, never a control character, never back into `/_auth/`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in value) or len(value) > 2048:
        return "/"
    if value.startswith(PREFIX):
        return "/"
    return value


def is_navigation(method: str, headers: Mapping[str, str]) -> bool:
    """A browser loading a page (not a script's fetch, not a program): then a missing
    session is answered with the login page rather than a 401."""
    if method not in ("GET", "HEAD"):
        return False
    mode = headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode.strip().lower() == "navigate" and headers.get(
            "Sec-Fetch-Dest", "document"
        ).strip().lower() in ("document", "iframe")
    return "text/html" in headers.get("Accept", "")


def login_location(target: str) -> str:
    """The login page's URL, with where the browser wanted to go."""
    return LOGIN + "?" + urlencode({"next": safe_next(target)}, quote_via=quote)


def cookie_value(headers: Mapping[str, str], secure: bool) -> str | None:
    """The session cookie the request carries (under TLS only the `__Host-` one)."""
    raw = headers.get("Cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header: no session (http.cookies raises CookieError)
        return None
    morsel = jar.get(SECURE_COOKIE if secure else COOKIE)
    return None if morsel is None else morsel.value or None


def set_cookie(response: web.StreamResponse, secret: str, max_age: int, *, secure: bool) -> None:
    name = SECURE_COOKIE if secure else COOKIE
    attributes = f"; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    response.headers.add("Set-Cookie", f"{name}={secret}{attributes}{'; Secure' if secure else ''}")


def clear_cookie(response: web.StreamResponse, *, secure: bool) -> None:
    name = SECURE_COOKIE if secure else COOKIE
    attributes = "; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    response.headers.add("Set-Cookie", f"{name}={attributes}{'; Secure' if secure else ''}")


def redirect(location: str) -> web.Response:
    response = web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})
    return response


def _html(status: int, text: str) -> web.Response:
    return web.Response(
        status=status, text=text, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )


class SignIn:
    """The pages under `/_auth/`, for the gateway and for forward-auth alike.

    `secure` says whether a request reached the browser over TLS (the gateway's own
    TLS; behind a proxy, what the proxy says in X-Forwarded-Proto); `client` gives the
    browser's address as the server sees it.
    """

    def __init__(
        self,
        store: Store,
        authorizer: CachedAuthorizer,
        *,
        secure: Callable[[web.BaseRequest], bool],
        client: Callable[[web.BaseRequest], str | None],
        warn: Callable[[str], None],
    ) -> None:
        self._store = store
        self._authorizer = authorizer
        self.secure = secure
        self._client = client
        self._warn = warn

    async def _in_thread(self, call: Callable[[], T]) -> T:
        """A store change, off the event loop (it takes the store's lock)."""
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path, _, _ = request.raw_path.partition("?")
        route = (request.method, path)
        note(request, "signin", path)
        if route in (("GET", LOGIN), ("HEAD", LOGIN)):
            return self._login_form(request)
        if route == ("POST", LOGIN):
            return await self._login(request)
        if route == ("POST", LOGOUT):
            return await self._logout(request)
        if route in (("GET", PAIR), ("HEAD", PAIR)):
            return await self._pairing_form(request)
        if route == ("POST", PAIR):
            return await self._pair(request)
        if path in (LOGIN, LOGOUT, PAIR):
            return web.Response(status=405, headers={"Allow": "GET, POST"})
        return _html(404, message_page("Not found", "There is no such page."))

    # --- login ----------------------------------------------------------------------

    def _login_form(self, request: web.BaseRequest, problem: str | None = None) -> web.Response:
        next_path = safe_next(request.query.get("next"))
        status = 200 if problem is None else 401
        return _html(status, login_page(LOGIN, next_path, problem))

    async def _form(self, request: web.BaseRequest) -> Mapping[str, str] | web.Response:
        """The posted form, once it is known to come from this origin and be small."""
        why = cross_site(
            request.method, request.headers, request.headers.get("Host"), websocket=False
        )
        if why is not None:
            note(request, "cross_site", request.path)
            return _html(403, message_page("Refused", why))
        if (request.content_length or 0) > MAX_FORM:
            return _html(413, message_page("Refused", "The form is too large."))
        try:
            form = await request.post()
        except Exception:  # malformed body: nothing to sign in with
            return _html(400, message_page("Refused", "The form could not be read."))
        return {key: value for key, value in form.items() if isinstance(value, str)}

    async def _login(self, request: web.BaseRequest) -> web.StreamResponse:
        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        token = form.get("token", "").strip()
        next_path = safe_next(form.get("next"))
        index = await self._authorizer.fresh_index()  # a changed store: read off the loop
        record = self._authorizer.token_of(token, index=index) if token else None
        if record is None:
            note(request, "login_refused", LOGIN)
            return _html(
                401,
                login_page(
                    LOGIN,
                    next_path,
                    "That is not a valid token: it was mistyped, deleted, rotated or has expired.",
                ),
            )
        try:
            issued = await self._in_thread(
                functools.partial(
                    self._store.create_session,
                    record.id,
                    client=self._client(request),
                    user_agent=request.headers.get("User-Agent"),
                    via="login",
                )
            )
        except (AuthTuiError, StoreError) as exc:
            self._warn(f"could not start a session: {exc}")
            return _html(
                503,
                login_page(LOGIN, next_path, "The token store cannot record a session now."),
            )
        note(request, "signed_in", LOGIN, issued.record.token_id)
        response = redirect(next_path)
        set_cookie(
            response,
            issued.secret.reveal(),
            issued.max_age(self._store.now()),
            secure=self.secure(request),
        )
        return response

    async def _logout(self, request: web.BaseRequest) -> web.StreamResponse:
        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        secure = self.secure(request)
        secret = cookie_value(request.headers, secure)
        index = await self._authorizer.fresh_index()
        session = self._authorizer.session_of(secret, index=index) if secret else None
        if session is not None:
            try:
                await self._in_thread(functools.partial(self._store.end_sessions, [session.id]))
            except (AuthTuiError, StoreError) as exc:
                self._warn(f"could not end a session: {exc}")
        response = redirect(LOGIN)
        clear_cookie(response, secure=secure)
        return response

    # --- pairing ------------------------------------------------------------------

    async def _pairing_form(self, request: web.BaseRequest) -> web.Response:
        code = request.query.get("code", "")
        found = await self._in_thread(functools.partial(self._store.pairing_state, code))
        if found.state != "valid" or found.token_name is None:
            return _html(410, message_page("This link does not work", _PAIRING_GONE[found.state]))
        return _html(200, pairing_page(PAIR, code, found.token_name))

    async def _pair(self, request: web.BaseRequest) -> web.StreamResponse:
        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        code = form.get("code", "")
        try:
            issued = await self._in_thread(
                functools.partial(
                    self._store.consume_pairing,
                    code,
                    client=self._client(request),
                    user_agent=request.headers.get("User-Agent"),
                )
            )
        except PairingInvalid as exc:
            note(request, "pairing_refused", PAIR)
            return _html(410, message_page("This link does not work", _PAIRING_GONE[exc.reason]))
        except (AuthTuiError, StoreError) as exc:
            self._warn(f"could not pair a device: {exc}")
            return _html(
                503, message_page("Try again", "The token store cannot record a session now.")
            )
        note(request, "paired", PAIR, issued.record.token_id)
        response = redirect("/")
        set_cookie(
            response,
            issued.secret.reveal(),
            issued.max_age(self._store.now()),
            secure=self.secure(request),
        )
        return response


_PAIRING_GONE = {
    "unknown": "This pairing link was already used, or its token was deleted, rotated or "
    "changed since. Ask for a new one (opencode-auth-tui pair).",
    "expired": "This pairing link has expired: links work for five minutes. Ask for a new "
    "one (opencode-auth-tui pair).",
    "orphaned": "The token this link was made for has expired or been deleted, so it signs "
    "nobody in.",
    "valid": "This pairing link cannot be used.",
}
