"""What the gateway and forward-auth ask opencode itself.

Some facts of a decision are opencode's alone:

- its version (`GET /global/health`), to warn when the route policy was made
  for another one;
- the directory it serves by default and its own folders (`GET /path`), which
  become the gateway's default root and protected paths;
- the directory a session lives in (`GET /session/{id}`): session routes work
  there, whatever directory the request names.

They are asked with opencode's own credentials, after the client's token has
passed (so no unauthenticated request can make the server ask anything).
Session directories are cached for a short while: they change only when a
session is moved, which the scope refuses whenever directories are restricted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import ClientError, ClientSession, hdrs
from yarl import URL

from core.authz.authorizer import CachedAuthorizer
from core.authz.protected import protected_paths
from core.authz.scope import Root, ServerScope, SessionDirectory
from core.gateway.background import Background

SESSION_TTL = 30.0
SESSION_CACHE_SIZE = 4096


class UpstreamUnavailable(Exception):
    """opencode could not be asked (down, too slow, or refusing our credentials)."""


@dataclass(frozen=True, slots=True)
class OpencodeFacts:
    version: str | None
    directory: str | None
    folders: tuple[str, ...]
    """opencode's config, data, state and cache folders, as it reports them."""


class OpencodeInfo:
    """Asks opencode at `base` (with `authorization`, its own credentials) over the
    HTTP client the server attaches when it starts."""

    def __init__(
        self,
        base: str,
        authorization: str | None,
        *,
        timeout: float = 5.0,
        ttl: float = SESSION_TTL,
    ) -> None:
        self._http: ClientSession | None = None
        self._base = base
        self._headers = {} if authorization is None else {hdrs.AUTHORIZATION: authorization}
        self._timeout = timeout
        self._ttl = ttl
        self._sessions: OrderedDict[str, tuple[float, SessionDirectory]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[SessionDirectory]] = {}
        self.lookups = 0

    def attach(self, http: ClientSession) -> None:
        """The HTTP client to ask with (the server's, made once its loop runs)."""
        self._http = http

    async def _get_json(self, path: str) -> tuple[int, Any]:
        http = self._http
        if http is None:
            raise UpstreamUnavailable("the server has not started")
        url = URL(self._base + path, encoded=True)
        try:
            async with (
                asyncio.timeout(self._timeout),
                http.get(url, headers=self._headers, allow_redirects=False) as resp,
            ):
                if resp.status == 401:
                    raise UpstreamUnavailable("opencode refused the gateway's credentials")
                if resp.status != 200:
                    return resp.status, None
                return 200, await resp.json(content_type=None)
        except (TimeoutError, ClientError, ValueError) as exc:
            raise UpstreamUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def facts(self) -> OpencodeFacts:
        """opencode's version, default directory and folders (raises UpstreamUnavailable)."""
        _, health = await self._get_json("/global/health")
        status, paths = await self._get_json("/path")
        version = health.get("version") if isinstance(health, dict) else None
        directory: str | None = None
        folders: list[str] = []
        if status == 200 and isinstance(paths, dict):
            value = paths.get("directory")
            directory = value if isinstance(value, str) and value.startswith("/") else None
            for key in ("config", "state"):
                folder = paths.get(key)
                if isinstance(folder, str) and folder.startswith("/"):
                    folders.append(folder)
            home = paths.get("home")
            if isinstance(home, str) and home.startswith("/"):
                folders += [f"{home}/.local/share/opencode", f"{home}/.cache/opencode"]
        return OpencodeFacts(
            version if isinstance(version, str) else None, directory, tuple(folders)
        )

    # --- sessions -------------------------------------------------------------------

    def cached(self, session_id: str) -> SessionDirectory | None:
        """The session's directory if looked up recently, else None."""
        hit = self._sessions.get(session_id)
        if hit is None:
            return None
        stamp, found = hit
        if time.monotonic() - stamp > self._ttl:
            del self._sessions[session_id]
            return None
        return found

    def forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def session(self, session_id: str) -> SessionDirectory:
        """The session's directory, from opencode (one request per id at a time)."""
        cached = self.cached(session_id)
        if cached is not None:
            return cached
        pending = self._inflight.get(session_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[SessionDirectory] = asyncio.get_running_loop().create_future()
        self._inflight[session_id] = future
        try:
            found = await self._lookup(session_id)
        except BaseException as exc:
            future.set_exception(exc)
            with contextlib.suppress(BaseException):
                future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._inflight.pop(session_id, None)
        future.set_result(found)
        return found

    async def _lookup(self, session_id: str) -> SessionDirectory:
        self.lookups += 1
        status, body = await self._get_json("/session/" + quote(session_id, safe=""))
        if status != 200 or not isinstance(body, dict):
            # No such session (or an id opencode refuses): the request itself will
            # fail the same way, so there is no directory to check. Not cached, so
            # a session created later under that id is looked up again.
            return SessionDirectory(None)
        directory = body.get("directory")
        found = SessionDirectory(
            directory if isinstance(directory, str) else None,
            workspace=bool(body.get("workspaceID")),
        )
        self._sessions[session_id] = (time.monotonic(), found)
        while len(self._sessions) > SESSION_CACHE_SIZE:
            self._sessions.popitem(last=False)
        return found


class ScopeLearner:
    """Learns opencode's facts at start-up - retrying until opencode answers - and
    puts the resulting scope into the authorizer in one assignment.

    `roots` are the server's `--directory` values; None means opencode's own
    directory (the gateway's default), and `any_directory` serves every one.
    Until opencode answers, the env-derived protected paths already apply and,
    when the roots are opencode's directory, requests that need one get 503.
    """

    def __init__(
        self,
        info: OpencodeInfo,
        authorizer: CachedAuthorizer,
        *,
        kept: Sequence[Path],
        roots: tuple[str, ...] | None,
        any_directory: bool,
        warn: Callable[[str], None],
        say: Callable[[str], None] = lambda line: None,
        retry_every: float = 2.0,
    ) -> None:
        self._info = info
        self._authorizer = authorizer
        self._kept = tuple(kept)
        self._roots = roots
        self._any = any_directory
        self._policy_version = authorizer.policy.opencode_version
        self._warn = warn
        self._say = say
        self._retry = retry_every
        self._background = Background(self._run)
        self.facts: OpencodeFacts | None = None
        self.learned = asyncio.Event()
        authorizer.scope = self.scope(None)

    def scope(self, facts: OpencodeFacts | None) -> ServerScope:
        protected = protected_paths(
            self._kept, opencode_folders=() if facts is None else facts.folders
        )
        default = None if facts is None else facts.directory
        trusted = default is not None  # until opencode says, its directory is unknown
        if self._any:
            return ServerScope(None, default, default_trusted=trusted, protected=protected)
        if self._roots is not None:
            roots = tuple(Root.of(r) for r in self._roots)
            return ServerScope(roots, default, default_trusted=trusted, protected=protected)
        if default is None:
            return ServerScope((), None, protected=protected, pending=True)
        return ServerScope((Root.of(default),), default, protected=protected)

    def start(self) -> None:
        self._background.start()

    async def close(self) -> None:
        await self._background.close()

    async def _run(self) -> None:
        warned = False
        while True:
            try:
                facts = await self._info.facts()
            except UpstreamUnavailable as exc:
                if not warned:
                    waiting = (
                        "; until it answers, requests that name a directory get 503"
                        if self._roots is None and not self._any
                        else ""
                    )
                    self._warn(f"opencode is not reachable yet ({exc}){waiting}")
                    warned = True
                await asyncio.sleep(self._retry)
                continue
            self._learned(facts)
            return

    def _learned(self, facts: OpencodeFacts) -> None:
        self.facts = facts
        scope = self.scope(facts)
        self._authorizer.scope = scope
        self.learned.set()
        if facts.version != self._policy_version:
            self._warn(
                f"opencode {facts.version or '(unknown version)'} is running, but the route "
                f"policy was made for opencode {self._policy_version}: operations it does not "
                "know need all three permissions (logged as unclassified); see "
                "`opencode-auth-tui policy --diff`"
            )
        if scope.roots is None:  # --any-directory: now a request that names none works too
            self._say(f"serving every directory; opencode's own is {facts.directory}")
        if scope.roots:
            shown = ", ".join(root.path for root in scope.roots)
            self._say(f"serving the directories {shown}")
            for root in scope.roots:
                inside = scope.protected.inside(root.path)
                if inside is not None:
                    self._warn(
                        f"the directory {root.path} holds {inside}, which is never served: "
                        "searches there are refused"
                    )
