"""The PostgreSQL engine: one token store shared by every gateway and forward-auth.

`core.pg.url` needs nothing beyond the base install (it recognises and masks a
URL); the engine itself (`core.pg.store`, `core.pg.schema`, `core.pg.watch`)
needs psycopg 3, from the optional `[postgres]` extra, and is imported only
when a database store is opened.
"""
