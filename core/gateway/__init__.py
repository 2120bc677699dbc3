"""Enforcement: the tokens guarding a real `opencode serve`.

Upstream opencode checks no API tokens, so two small servers apply core's
authorization decision (`core.authz.authorizer.CachedAuthorizer.decide`, unchanged):

    gateway       an authenticating reverse proxy in front of opencode
                  (HTTP, streamed bodies, SSE, WebSocket)      -> proxy.py, websocket.py
    forward-auth  the same decision for nginx `auth_request`, Caddy
                  `forward_auth`, Traefik `ForwardAuth`       -> forward_auth.py

Shared pieces: settings.py (addresses, timeouts, upstream credentials; pure),
guard.py (request -> decision -> denial response), headers.py (what is forwarded),
usage.py (`last_used_at`, off the request path), access_log.py (one JSON line per
request, no secrets), server.py (listening, limits, TLS, signals, graceful
shutdown). The two subcommands are core/cli/gateway.py (flags) and
core/cli/serve.py (start-up).

Both run on aiohttp, an optional extra (`pip install 'opencode-auth-tui[gateway]'`).
Only settings.py, extra.py and this file are imported by the base install; every
module that imports aiohttp is imported lazily, after the CLI has checked that
aiohttp is installed (extra.py).
"""
