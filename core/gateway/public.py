"""The few files opencode itself serves without a password, passed on without one.

opencode 1.18.33 answers three requests without checking its password: `GET
/site.webmanifest` and the two `web-app-manifest-*.png` icons it names (a
browser fetches a page's manifest without credentials, so opencode lets it
through). Through the gateway those were refused (401) first, and a browser
asked twice. Now a request for exactly one of them that carries no credentials
goes on to opencode, and nothing else does:

- the method is GET and the target is the path itself, byte for byte: no query
  string, no encoded or doubled characters, no other path (anything else is
  decided as before);
- it has no body, and none of the client's headers go on but what a static
  file's answer depends on (`Accept`, `Accept-Encoding`, conditional headers,
  `Host`), so no directory, workspace, cookie or credentials reach opencode;
- opencode gets it without the gateway's own credentials, so it serves the file
  only because it serves it to anyone: if a later opencode stops doing so (401),
  the request is decided as any other and refused the usual way.

The answer carries the web app's safety headers, like the files of the app.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import CIMultiDict

PUBLIC_FILES = frozenset(
    {"/site.webmanifest", "/web-app-manifest-192x192.png", "/web-app-manifest-512x512.png"}
)
"""opencode 1.18.33's own list of paths it serves without auth (its `E1`)."""
_KEPT = (
    hdrs.HOST,
    hdrs.ACCEPT,
    hdrs.ACCEPT_ENCODING,
    hdrs.ACCEPT_LANGUAGE,
    hdrs.IF_NONE_MATCH,
    hdrs.IF_MODIFIED_SINCE,
)


def is_public(request: web.BaseRequest, raw: str) -> bool:
    """`request` asks for one of opencode's public files, as opencode would let
    it through without a password."""
    return request.method == hdrs.METH_GET and raw in PUBLIC_FILES and not request.body_exists


def public_headers(request: web.BaseRequest, scheme: str) -> CIMultiDict[str]:
    """What goes to opencode with a public file's request: only what its answer
    depends on, and who asked (X-Forwarded-*)."""
    incoming = request.headers
    out: CIMultiDict[str] = CIMultiDict()
    for name in _KEPT:
        value = incoming.get(name)
        if value is not None:
            out[name] = value
    if request.remote:
        out[hdrs.X_FORWARDED_FOR] = request.remote
    out[hdrs.X_FORWARDED_PROTO] = scheme
    host = incoming.get(hdrs.HOST)
    if host:
        out[hdrs.X_FORWARDED_HOST] = host
    return out
