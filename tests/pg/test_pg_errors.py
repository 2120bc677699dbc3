"""Everything a user can get wrong about a database store is one line on stderr
with the right exit code, never a traceback, and never a password."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.model.errors import SchemaOutdated, StoreVersionUnsupported
from core.store.pg import schema
from core.store.pg.connection import connect
from core.store.pg.engine import PostgresStore
from tests.cli.conftest import SCRIPT, Result
from tests.pg.cluster import PASSWORD, PASSWORD_ROLE, Cluster

PROG = "opencode-auth-tui"


def run(*args: str, env: dict[str, str] | None = None, home: Path | None = None) -> Result:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home or "/nonexistent"),
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    proc = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=environment, timeout=60
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def one_error(result: Result, code: int) -> str:
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith(f"{PROG}: error: ")
    return line


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ci:hunter2@db.example/tokens",
        "postgres://ci:hunter2@/tokens?host=/run/postgresql",
        "postgresql:///tokens?user=ci&password=hunter2",
        "postgresql:///tokens?sslpassword=hunter2",
        "postgresql://ci:@db.example/tokens",
    ],
)
def test_a_url_with_a_password_is_refused_before_anything(url: str) -> None:
    for args in (("--store", url, "token", "list"), ("token", "list", "--store", url)):
        line = one_error(run(*args), 2)
        assert "hunter2" not in line
        assert "contains a password" in line and "PGPASSWORD" in line and "service" in line
    line = one_error(run("token", "list", env={"OPENCODE_AUTH_TOKENS_URL": url}), 2)
    assert "hunter2" not in line


def test_the_gateway_refuses_a_url_with_a_password_too() -> None:
    url = "postgresql://ci:hunter2@db.example/tokens"
    for command in ("gateway", "forward-auth"):
        result = run("--store", url, command, "--any-directory")
        line = one_error(result, 2)
        assert "hunter2" not in line and "contains a password" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://[::1/tokens", "malformed"),
        ("postgresql:///tokens?hots=/tmp", 'invalid URI query parameter: "hots"'),
        ("postgresql://localhost:notaport/tokens", "the port 'notaport' is not a number"),
        ("postgresql:///to kens", "white space"),
    ],
)
def test_a_malformed_url_is_a_usage_error(url: str, says: str) -> None:
    line = one_error(run("--store", url, "token", "list"), 2)
    assert says in line


def test_the_environment_variables_are_checked(tmp_path: Path) -> None:
    line = one_error(run("token", "list", env={"OPENCODE_AUTH_TOKENS_URL": str(tmp_path)}), 2)
    assert "$OPENCODE_AUTH_TOKENS_URL is not a database URL" in line
    line = one_error(
        run("token", "list", env={"OPENCODE_AUTH_TOKENS_FILE": "postgresql:///tokens"}), 2
    )
    assert "put it in $OPENCODE_AUTH_TOKENS_URL" in line


def test_the_url_variable_wins_over_the_file_variable(pg_url: str, tmp_path: Path) -> None:
    file = tmp_path / "tokens.json"
    env = {"OPENCODE_AUTH_TOKENS_URL": pg_url, "OPENCODE_AUTH_TOKENS_FILE": str(file)}
    assert run("token", "create", "--name", "in-db", env=env).code == 0
    assert not file.exists()
    assert [r.name for r in PostgresStore(pg_url).tokens()] == ["in-db"]
    # --store wins over both
    assert run("--store", str(file), "token", "create", "--name", "in-file", env=env).code == 0
    assert file.exists()
    assert [r.name for r in PostgresStore(pg_url).tokens()] == ["in-db"]


def test_a_missing_schema_says_to_run_db_init(pg_empty_url: str) -> None:
    for args in (("token", "list"), ("token", "create"), ("export",)):
        line = one_error(run("--store", pg_empty_url, *args), 3)
        assert "the database has no token store yet" in line
        assert "db init" in line


def test_the_gateway_refuses_to_start_on_a_missing_schema(pg_empty_url: str) -> None:
    result = run("--store", pg_empty_url, "forward-auth", "--any-directory")
    line = one_error(result, 3)
    assert "db init" in line


def test_db_init_creates_then_says_it_is_there(pg_empty_url: str) -> None:
    first = run("--store", pg_empty_url, "db", "init")
    assert first.code == 0, first.err
    assert first.out.startswith("Created the token store (schema opencode_auth_tui, version 2)")
    again = run("--store", pg_empty_url, "db", "init")
    assert again.code == 0
    assert "already at version 2; nothing to do" in again.err
    upgrade = run("--store", pg_empty_url, "db", "upgrade")
    assert upgrade.code == 0 and "already at version 2" in upgrade.err
    assert run("--store", pg_empty_url, "token", "list").code == 0


def test_db_upgrade_without_a_schema_says_to_run_db_init(pg_empty_url: str) -> None:
    line = one_error(run("--store", pg_empty_url, "db", "upgrade"), 3)
    assert "db init" in line


def test_db_on_a_file_store_is_a_usage_error(tmp_path: Path) -> None:
    line = one_error(run("--store", str(tmp_path / "t.json"), "db", "init"), 2)
    assert "works on a database store" in line


def test_a_wrong_password_is_one_line_and_exit_3(pg_cluster: Cluster) -> None:
    url = pg_cluster.url("postgres", user=PASSWORD_ROLE)
    wrong = {"PGPASSWORD": "canary-pw-0042"}
    line = one_error(run("--store", url, "token", "list", env=wrong), 3)
    assert 'password authentication failed for user "oat_pw"' in line
    assert "canary-pw-0042" not in line
    assert "PGPASSWORD" in line  # the hint
    # the right one, from a password file (never the command line), gets further:
    passfile = Path(pg_cluster.folder.parent / f"pgpass-{os.getpid()}")
    passfile.write_text(f"*:*:*:{PASSWORD_ROLE}:{PASSWORD}\n")
    passfile.chmod(0o600)
    try:
        result = run("--store", url, "token", "list", env={"PGPASSFILE": str(passfile)})
    finally:
        passfile.unlink()
    line = one_error(result, 3)
    assert "the database has no token store yet" in line


def test_an_unreachable_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    url = f"postgresql://postgres@/tokens?host={tmp_path}"
    line = one_error(run("--store", url, "token", "list"), 3)
    assert "cannot connect to the database" in line and str(tmp_path) in line
    line = one_error(run("--store", url, "gateway"), 3)
    assert "cannot connect to the database" in line


def test_a_missing_database_says_so(pg_cluster: Cluster) -> None:
    line = one_error(run("--store", pg_cluster.url("no_such_db"), "token", "list"), 3)
    assert 'database "no_such_db" does not exist' in line and "createdb" in line


def test_an_outdated_schema_says_to_upgrade_and_upgrade_brings_it_up(pg_url: str) -> None:
    """A build that knows a version 3 finds version 2: every command says to run
    `db upgrade`, which applies what is missing (in one transaction)."""
    newer = {**schema.MIGRATIONS, 3: (f"ALTER TABLE {schema.SCHEMA}.tokens ADD COLUMN x int",)}
    conn = connect(pg_url, "the database")
    try:
        with pytest.raises(SchemaOutdated) as raised:
            schema.require_current(conn, "db", newer)
        assert "version 2; this build needs 3" in str(raised.value)
        assert raised.value.hint == "run: opencode-auth-tui --store URL db upgrade"
        conn.rollback()
        change = schema.upgrade(conn, newer)
        assert (change.outcome, change.before, change.after) == ("upgraded", 2, 3)
        schema.require_current(conn, "db", newer)
        # and to this build, that database is now too new:
        with pytest.raises(StoreVersionUnsupported) as too_new:
            schema.require_current(conn, "db")
        assert too_new.value.hint == "upgrade opencode-auth-tui"
    finally:
        conn.close()
    line = one_error(run("--store", pg_url, "token", "list"), 3)
    assert "newer than this build understands" in line


def test_without_psycopg_a_database_store_says_to_install_the_extra(pg_url: str) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from core.cli import main\n"
        f"sys.exit(main(['--store', {pg_url!r}, 'token', 'list']))\n"
    )
    proc = subprocess.run(
        [str(Path(SCRIPT).with_name("python")), "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"{PROG}: error: a PostgreSQL store needs psycopg: pip install "
        "'opencode-auth-tui[postgres]' (from a clone of the repository: pip install '.[postgres]')"
    ]


def test_a_file_store_never_imports_psycopg(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from core.cli import main\n"
        f"code = main(['--store', {str(tmp_path / 't.json')!r}, 'token', 'create', '--quiet'])\n"
        "assert code == 0\n"
        f"assert main(['--store', {str(tmp_path / 't.json')!r}, 'token', 'list']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))\n"
    )
    proc = subprocess.run(
        [str(Path(SCRIPT).with_name("python")), "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("typo", ["postgresql:/tokens", "postgres:tokens", "PostgreSQL:/db"])
def test_a_url_with_a_slash_missing_is_not_taken_for_a_file(typo: str, tmp_path: Path) -> None:
    result = run("--store", typo, "token", "create", home=tmp_path)
    line = one_error(result, 2)
    assert "looks like a database URL with a slash missing" in line
    assert list(tmp_path.iterdir()) == []
