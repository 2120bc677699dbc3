"""libpq's credential files are never served, whatever the store: a read token
must not fetch the password a database store logs in with."""

from __future__ import annotations

from core.authz.protected import protected_paths


def test_libpq_credentials_are_protected_by_default() -> None:
    protected = protected_paths((), environ={"HOME": "/home/me"})
    for path in (
        "/home/me/.pgpass",
        "/home/me/.pg_service.conf",
        "/home/me/.postgresql/postgresql.key",
        "/home/me/.postgresql/root.crt",
    ):
        assert protected.covers(path), path
    assert not protected.covers("/home/me/.pgpass-notes/x")
    assert not protected.covers("/home/me/src/app/pgpass")


def test_the_files_libpq_is_pointed_at_are_protected() -> None:
    env = {
        "HOME": "/home/me",
        "PGPASSFILE": "/etc/opencode/pgpass",
        "PGSERVICEFILE": "/srv/conf/services.conf",
        "PGSYSCONFDIR": "/etc/postgresql-common",
    }
    protected = protected_paths(["/home/me/.config/opencode/auth-tokens.json"], environ=env)
    for path in (
        "/etc/opencode/pgpass",
        "/srv/conf/services.conf",
        "/etc/postgresql-common/pg_service.conf",
        "/home/me/.pgpass",  # still: the default is where libpq looks without the variable
    ):
        assert protected.covers(path), path
    assert not protected.covers("/srv/conf/other.conf")
