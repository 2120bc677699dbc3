"""opencode-auth-tui core: the token store, the token format and the authorization rules.

    model/     what a token is: records, permissions, names, expiry, token format, errors
    authz/     what a request may do: the opencode policy (data), routing, scope, the decision
    store/     where tokens live: the Store interface; the file and PostgreSQL engines
    present.py what the CLI and the TUI both show
    cli/       the headless command line;  gateway/  the proxy and forward-auth

Importable by any Python program (it never imports Textual or the TUI):

    from core.authz.authorizer import CachedAuthorizer
    from core.store.engines import open_store
    from core.store.location import resolve_store

    store = open_store(resolve_store())      # the file, or a database
    issued = store.create(name="ci", permissions="read", expires="30d")
    decision = CachedAuthorizer(store.new_reader()).decide(
        "Bearer " + issued.secret.reveal(), "GET", "/file/content?path=README.md"
    )
"""

__version__ = "0.1.0"
