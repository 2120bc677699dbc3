"""opencode-auth-tui core: the token store, the token format and the authorization rules.

Importable by any Python program (it never imports Textual or the TUI):

    from core.store import TokenStore
    from core.authorize import CachedAuthorizer

    store = TokenStore(resolve_store_path())
    issued = store.create(name="ci", permissions="read", expires="30d")
    decision = CachedAuthorizer(store.path).decide("Bearer " + token, "GET", "/session")
"""

__version__ = "0.1.0"
