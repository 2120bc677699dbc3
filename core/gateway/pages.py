"""The gateway's own pages (sign in, pairing, signed out): small, self-contained HTML.

No script, no outside asset, one inline stylesheet allowed by its hash: the
policy (`PAGE_POLICY`) forbids everything else, and the pages can only submit
forms to this origin (`form-action 'self'`). Every piece of text that came from
a request or the store is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 1rem;background:#f6f7f9;color:#1c1e21}
main{max-width:26rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:12px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 1rem}
p{margin:.5rem 0 1rem}
label{display:block;font-weight:600;margin-bottom:.35rem}
input[type=password]{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;
font-family:ui-monospace,monospace;border:1px solid #aab;border-radius:8px}
button{margin-top:1rem;width:100%;padding:.7rem;font:inherit;font-weight:600;border:0;
border-radius:8px;background:#2456d3;color:#fff;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #f0a500;outline-offset:2px}
.error{color:#a4161a;font-weight:600}
.muted{color:#5b6270;font-size:.9rem}
""".strip()

STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
PAGE_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{STYLE_HASH}'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The pages' Content-Security-Policy: their own stylesheet, nothing else."""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="strict-origin">'
        f"<title>{escape(title)} - opencode</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def login_page(action: str, next_path: str, problem: str | None = None) -> str:
    """Paste a token; a same-origin POST to `action` signs in, then goes to `next_path`."""
    error = f'<p class="error" role="alert">{escape(problem)}</p>' if problem else ""
    return _page(
        "Sign in",
        "<h1>Sign in to opencode</h1>"
        f"{error}"
        f'<form method="post" action="{escape(action)}">'
        '<label for="token">API token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'spellcheck="false" autocapitalize="off" required autofocus '
        'placeholder="ocat_...">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<button type="submit">Sign in</button>'
        "</form>"
        '<p class="muted">The token stays on this page: this browser gets a session of '
        "its own, which ends when the token is deleted, rotated or expires.</p>",
    )


def pairing_page(action: str, code: str, token_name: str) -> str:
    """One button: pressing it (a POST) signs this browser in; looking consumes nothing."""
    return _page(
        "Pair this device",
        "<h1>Pair this device</h1>"
        f"<p>This link signs this browser in to opencode as <b>{escape(token_name)}</b>. "
        "It works once, within five minutes.</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="code" value="{escape(code)}">'
        '<button type="submit">Sign in this device</button>'
        "</form>"
        '<p class="muted">Not expecting this? Close the page: nothing happens until the '
        "button is pressed.</p>",
    )


def message_page(title: str, text: str, link: tuple[str, str] | None = None) -> str:
    """A page that only says something (a used link, signed out)."""
    more = ""
    if link is not None:
        href, label = link
        more = f'<p><a href="{escape(href)}">{escape(label)}</a></p>'
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{more}")
