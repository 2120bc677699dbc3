"""Store maintenance: `migrate` (a PR #8217 file, or the file into a database),
`export`, `db init|upgrade` and `schema`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.cli.command import Command, NoOptions, add_command, add_group
from core.cli.console import Console
from core.cli.exits import EXIT_NOT_FOUND, EXIT_OK, EXIT_STORE, UsageError
from core.cli.output import PROG, confirm, emit_json, error, note, warn
from core.cli.store_access import check_folder, check_store_flag, kept_files, load, open_named
from core.cli.token_view import label
from core.model.errors import LegacyStoreFound
from core.model.text import escape_controls
from core.present import counted
from core.store import Copied, HasSchema, Migratable
from core.store.engines import open_store
from core.store.location import URL_ENV_VAR, resolve_store, resolve_store_path

if TYPE_CHECKING:
    from core.cli.command import Subcommands


# --- migrate -------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrateOptions:
    store: str | None
    yes: bool
    to: str | None


def migrate(options: MigrateOptions, console: Console) -> int:
    if options.to is not None:
        return _migrate_to(options, options.to, console)
    store = open_named(options.store)
    if not isinstance(store, Migratable):  # only a file can hold a PR #8217 token list
        raise UsageError(
            "migrate converts a PR #8217 token file, and this store is a database: "
            "give --store FILE, or copy a file into the database with migrate --to URL"
        )
    try:
        snapshot = load(store, console)
    except LegacyStoreFound as found:
        question = (
            f"{store.location} {found.problem}. Convert it, hashing every secret "
            "(a 0600 backup of the original is kept)?"
        )
        if not confirm(console, question, yes=options.yes):
            note(console, "Nothing changed.")
            return EXIT_OK
        migration = store.migrate()
        print(
            f"Migrated {counted(len(migration.records), 'token')}; the old secrets keep working.",
            file=console.stdout,
        )
        if migration.unusable:
            names = ", ".join(f"'{escape_controls(name)}'" for name in migration.unusable)
            warn(
                console,
                f"the old secrets of {names} cannot be sent as bearer tokens "
                "(unusual characters or length); rotate them to use them again",
            )
        warn(
            console,
            f"the backup {migration.backup} holds the old secrets in plain text; "
            "delete it once you have checked the migration",
        )
        return EXIT_OK
    if not snapshot.exists:
        error(console, f"{store.location} does not exist; there is nothing to migrate")
        return EXIT_NOT_FOUND
    note(console, f"{store.location} is already in the current format; nothing to migrate.")
    return EXIT_OK


def _migrate_to(options: MigrateOptions, url: str, console: Console) -> int:
    """Copy the JSON store file into a database (idempotent)."""
    from core.store.pg.url import check_url, is_database_url

    if not is_database_url(url):
        raise UsageError("migrate --to: give the database's postgresql:// URL")
    check_store_flag(options.store)
    if options.store is not None and is_database_url(options.store):
        raise UsageError(
            "migrate --to copies a JSON store file into the database: --store must name the "
            "file (default: $OPENCODE_AUTH_TOKENS_FILE, else the XDG path)"
        )
    source = open_store(resolve_store_path(options.store))
    snapshot = load(source, console)
    if not snapshot.exists:
        error(console, f"{source.location} does not exist; there is nothing to copy")
        return EXIT_NOT_FOUND
    target = open_store(check_url(url))
    try:
        copied = target.copy_in(snapshot.records)
    finally:
        target.close()
    return _report_copy(copied, source.location, target.location, console)


def _report_copy(copied: Copied, source: str, target: str, console: Console) -> int:
    total = len(copied.copied) + len(copied.present) + len(copied.conflicts)
    print(
        f"{counted(total, 'token')} in {source}: {len(copied.copied)} copied to {target}, "
        f"{len(copied.present)} already there (same id and secret), "
        f"{len(copied.conflicts)} in conflict.",
        file=console.stdout,
    )
    for record, why in copied.conflicts:
        warn(console, f"not copied: {label(record)}: {why}")
    return EXIT_NOT_FOUND if copied.conflicts else EXIT_OK


# --- export --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportOptions:
    store: str | None
    to: str | None


def export(options: ExportOptions, console: Console) -> int:
    """The store's tokens as a JSON store file (version 3; browser sessions stay
    where they are): into FILE with the file engine's own atomic 0600 writer
    (merged idempotently into an existing one), or stdout."""
    from core.store import serialize

    store = open_named(options.store)
    try:
        snapshot = load(store, console)
    finally:
        store.close()
    if options.to is None:
        console.write_bytes(serialize(snapshot.records))
        return EXIT_OK
    if not options.to.strip():
        raise UsageError("export --to is empty: give the file to write")
    from core.store.pg.url import is_database_url

    if is_database_url(options.to):
        raise UsageError(
            "export --to writes a JSON store file; to copy into a database use migrate --to"
        )
    target_path = resolve_store_path(options.to)
    check_folder(target_path, "export --to")
    target = open_store(target_path)
    if set(kept_files(store)) & set(kept_files(target)):
        raise UsageError("export --to names the store itself; give another file")
    return _report_copy(target.copy_in(snapshot.records), store.location, target.location, console)


# --- db init, db upgrade, schema ---------------------------------------------------------


@dataclass(frozen=True)
class DbOptions:
    store: str | None
    db_command: Literal["init", "upgrade"]


def db(options: DbOptions, console: Console) -> int:
    """`db init` / `db upgrade`: create or bring up to date the database's schema."""
    from core.store.pg.schema import SCHEMA

    check_store_flag(options.store)
    location = resolve_store(options.store)
    if not isinstance(location, str):
        raise UsageError(
            f"db {options.db_command} works on a database store: give --store postgresql://... "
            f"or set ${URL_ENV_VAR} (the store is the file {location})"
        )
    store = open_store(location)
    if not isinstance(store, HasSchema):
        raise UsageError(f"db {options.db_command}: this store has no schema")
    change = store.init_schema() if options.db_command == "init" else store.upgrade_schema()
    where = store.location
    outcome = change.outcome
    if outcome == "created":
        print(
            f"Created the token store (schema {SCHEMA}, version {change.after}) in {where}.",
            file=console.stdout,
        )
    elif outcome == "upgraded":
        print(
            f"Upgraded the token store in {where} from version {change.before} to {change.after}.",
            file=console.stdout,
        )
    elif outcome == "current":
        note(
            console,
            f"The token store in {where} is already at version {change.after}; nothing to do.",
        )
    elif outcome == "outdated":
        error(
            console,
            f"{where}: the token store is at version {change.before}, older than this build's; "
            f"run: {PROG} --store URL db upgrade",
        )
        return EXIT_STORE
    else:
        error(
            console,
            f"{where}: the database has no token store yet; run: {PROG} --store URL db init",
        )
        return EXIT_STORE
    return EXIT_OK


def schema(_options: NoOptions, console: Console) -> int:
    from core.model.schema import store_json_schema

    emit_json(console, store_json_schema())
    return EXIT_OK


def register(commands: Subcommands) -> None:
    """`migrate`, `export`, `db` and `schema`, in the order `--help` lists them."""
    p = add_command(
        commands,
        "migrate",
        Command(MigrateOptions, migrate),
        "convert a PR #8217 token file (hashes every secret); with --to, copy the store "
        "file into a database",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--to",
        metavar="URL",
        help="copy the JSON store (--store FILE) into this postgresql:// database; "
        "tokens already there are skipped, conflicting ones reported",
    )

    p = add_command(
        commands,
        "export",
        Command(ExportOptions, export),
        "write the store as a JSON store file (version 3), e.g. a database's tokens",
    )
    p.add_argument(
        "--to",
        metavar="FILE",
        help="the file to write (atomically, 0600; tokens already in it are kept); default: stdout",
    )

    dbs = add_group(
        commands,
        "db",
        "create or upgrade a PostgreSQL store's schema (init, upgrade)",
        dest="db_command",
    )
    add_command(
        dbs, "init", Command(DbOptions, db), "create the token store's schema in the database"
    )
    add_command(
        dbs, "upgrade", Command(DbOptions, db), "bring the database's token store schema up to date"
    )

    add_command(
        commands,
        "schema",
        Command(NoOptions, schema),
        "print the JSON Schema of the store file",
        store=False,
    )
