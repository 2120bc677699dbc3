"""The PostgreSQL engine: one token store shared by every gateway and forward-auth.

`core.store.pg.url` needs nothing beyond the base install (it recognises and masks a
URL); the engine itself (`core.store.pg.engine`, `core.store.pg.schema`, `core.store.pg.watch`)
needs psycopg 3, from the optional `[postgres]` extra, and is imported only
when a database store is opened.
"""
