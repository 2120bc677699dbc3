"""The database schema: created by `db init`, brought up to date by `db upgrade`.

Everything lives in one PostgreSQL schema, `opencode_auth_tui`, named in every
statement (never found through `search_path`, which another role could put a
look-alike table in front of):

- `schema_version`: one row per migration applied; the highest is the version.
- `state`: one row - `change`, the change number every change bumps (the
  version watchers compare, and what NOTIFY carries); `instance`, random at
  `db init`, so a reader notices a database re-created under the same URL; and
  `forgotten_through`, the change number up to which deletion records may have
  been cleared (a reader that old reads everything again).
- `tokens`: one row per token, the file's fields; `name_key` is the name as
  Python's `str.casefold()` folds it - the rule the file engine applies - so
  the unique index on it makes names unique case-insensitively exactly as in
  the file (`lower()` in SQL folds by the database's locale, and folds `ß` or
  `ǅ` differently); `seq` keeps the order tokens were created in; `changed`
  is the change number of the row's last change.
- `deleted`: the id and change number of each deleted token, so a reader
  follows deletions incrementally (kept a week).
- `sessions` and `pairings` (version 2): the browser sessions and the pairing
  links not used yet, each of a token (a foreign key: they go with it). They
  are few, so a reader reads them whole - only after a change that changed
  them: `state.sessions_changed` is the change number of the last one. `seq`
  keeps the order they were made in, as the file does.
  `tokens.last_used_from` (version 2) is where the last use came from.

A change takes the `state` row `FOR UPDATE` first: writers are serialized by that
row lock (readers never wait for it), and change numbers are handed out in commit
order. Only digests are stored (a CHECK says so), never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from core.model.errors import SchemaMissing, SchemaOutdated, StoreVersionUnsupported
from core.store.snapshot import SchemaChange

if TYPE_CHECKING:
    import psycopg

SCHEMA = "opencode_auth_tui"
CHANNEL = "opencode_auth_tui"
"""The LISTEN/NOTIFY channel; the payload is the new change number."""
TOMBSTONE_DAYS = 7

_V1 = (
    f"CREATE SCHEMA {SCHEMA}",
    f"""CREATE TABLE {SCHEMA}.schema_version (
        version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
    )""",
    f"""CREATE TABLE {SCHEMA}.state (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        change bigint NOT NULL CHECK (change >= 0),
        instance text NOT NULL,
        forgotten_through bigint NOT NULL DEFAULT 0
    )""",
    f"CREATE SEQUENCE {SCHEMA}.token_order",
    f"""CREATE TABLE {SCHEMA}.tokens (
        id text PRIMARY KEY CHECK (id ~ '^[0-9a-z]{{8}}$'),
        seq bigint NOT NULL DEFAULT nextval('{SCHEMA}.token_order'),
        name text NOT NULL CHECK (name <> ''),
        name_key text NOT NULL,
        permissions text[] NOT NULL CHECK (
            cardinality(permissions) >= 1
            AND permissions <@ ARRAY['read', 'write', 'execute']::text[]
        ),
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        last_used_at timestamptz,
        hint text NOT NULL,
        digest text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{{64}}$'),
        legacy boolean NOT NULL DEFAULT false,
        note text,
        directories text[] NOT NULL DEFAULT '{{}}',
        changed bigint NOT NULL
    )""",
    f"CREATE UNIQUE INDEX tokens_name_key ON {SCHEMA}.tokens (name_key)",
    f"CREATE UNIQUE INDEX tokens_digest ON {SCHEMA}.tokens (digest)",
    f"CREATE INDEX tokens_changed ON {SCHEMA}.tokens (changed)",
    f"""CREATE TABLE {SCHEMA}.deleted (
        id text PRIMARY KEY,
        changed bigint NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT now()
    )""",
    f"CREATE INDEX deleted_changed ON {SCHEMA}.deleted (changed)",
)

_V2 = (
    f"""ALTER TABLE {SCHEMA}.tokens ADD COLUMN last_used_from text
        CHECK (char_length(last_used_from) <= 64)""",
    f"ALTER TABLE {SCHEMA}.state ADD COLUMN sessions_changed bigint NOT NULL DEFAULT 0",
    f"""CREATE TABLE {SCHEMA}.sessions (
        id text PRIMARY KEY CHECK (id ~ '^[0-9a-z]{{8}}$'),
        seq bigint GENERATED ALWAYS AS IDENTITY,
        digest text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{{64}}$'),
        token_id text NOT NULL REFERENCES {SCHEMA}.tokens (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        last_seen_at timestamptz,
        client text CHECK (char_length(client) <= 64),
        user_agent text CHECK (char_length(user_agent) <= 200),
        via text NOT NULL CHECK (via IN ('login', 'pairing'))
    )""",
    f"CREATE UNIQUE INDEX sessions_digest ON {SCHEMA}.sessions (digest)",
    f"CREATE INDEX sessions_token ON {SCHEMA}.sessions (token_id)",
    f"""CREATE TABLE {SCHEMA}.pairings (
        digest text PRIMARY KEY CHECK (digest ~ '^sha256:[0-9a-f]{{64}}$'),
        seq bigint GENERATED ALWAYS AS IDENTITY,
        token_id text NOT NULL REFERENCES {SCHEMA}.tokens (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
    )""",
    f"CREATE INDEX pairings_token ON {SCHEMA}.pairings (token_id)",
)

MIGRATIONS: Mapping[int, Sequence[str]] = {1: _V1, 2: _V2}
"""Schema version -> the statements that make it from the version before. A new
version adds an entry; `db upgrade` applies the missing ones in one transaction."""


def current_version(migrations: Mapping[int, Sequence[str]] = MIGRATIONS) -> int:
    return max(migrations)


def installed_version(conn: psycopg.Connection[tuple[object, ...]]) -> int | None:
    """The database's schema version; None when there is no schema."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_version",)).fetchone()
    if row is None or row[0] is None:
        return None
    found = conn.execute(f"SELECT max(version) FROM {SCHEMA}.schema_version").fetchone()
    return None if found is None or found[0] is None else int(str(found[0]))


def require_current(
    conn: psycopg.Connection[tuple[object, ...]],
    location: str,
    migrations: Mapping[int, Sequence[str]] = MIGRATIONS,
) -> None:
    """Raise the StoreError that says what to run unless the schema is this build's."""
    version = installed_version(conn)
    current = current_version(migrations)
    if version is None:
        raise SchemaMissing(
            location,
            "the database has no token store yet",
            hint="run: opencode-auth-tui --store URL db init",
        )
    if version < current:
        raise SchemaOutdated(
            location,
            f"the token store's schema is version {version}; this build needs {current}",
            hint="run: opencode-auth-tui --store URL db upgrade",
        )
    if version > current:
        raise StoreVersionUnsupported(
            location,
            f"the token store's schema is version {version}, newer than this build "
            f"understands ({current})",
            hint="upgrade opencode-auth-tui",
        )


def _locked(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """One `db init`/`db upgrade` at a time (held until the transaction ends)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{SCHEMA} schema",))


def init(
    conn: psycopg.Connection[tuple[object, ...]],
    instance: str,
    migrations: Mapping[int, Sequence[str]] = MIGRATIONS,
) -> SchemaChange:
    """Create the schema at the current version, in one transaction; an existing
    one is left as it is (`current`, or `outdated` for `db upgrade` to fix)."""
    with conn.transaction():
        _locked(conn)
        before = installed_version(conn)
        if before is not None:
            if before >= current_version(migrations):
                return SchemaChange("current", before, before)
            return SchemaChange("outdated", before, before)
        for version in sorted(migrations):
            _apply(conn, version, migrations[version])
        conn.execute(f"INSERT INTO {SCHEMA}.state (change, instance) VALUES (0, %s)", (instance,))
        return SchemaChange("created", None, current_version(migrations))


def upgrade(
    conn: psycopg.Connection[tuple[object, ...]],
    migrations: Mapping[int, Sequence[str]] = MIGRATIONS,
) -> SchemaChange:
    """Apply the migrations the database lacks, all in one transaction."""
    with conn.transaction():
        _locked(conn)
        before = installed_version(conn)
        if before is None:
            return SchemaChange("missing", None, None)
        missing = [v for v in sorted(migrations) if v > before]
        if not missing:
            return SchemaChange("current", before, before)
        for version in missing:
            _apply(conn, version, migrations[version])
        return SchemaChange("upgraded", before, missing[-1])


def _apply(
    conn: psycopg.Connection[tuple[object, ...]], version: int, statements: Sequence[str]
) -> None:
    for statement in statements:
        conn.execute(statement.encode())
    conn.execute(f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (%s)", (version,))
