#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are installed
# from Debian for the database-store tests. Idempotent and quiet. The tests start
# their own throw-away cluster in a temporary folder, on a unix socket only
# (tests/pg/cluster.py); this script never starts or enables a system service.
# As root, the cluster runs as the `postgres` user the package creates (PostgreSQL
# refuses to run as root).
set -u
NAME=install-postgres
. "$(dirname "$0")/lib.sh"

have_server() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}
have_user() {
    [ "$(id -u)" != "0" ] || { getent passwd postgres >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; }
}
if have_server && have_user; then
    exit 0
fi
apt_install 600 postgresql util-linux
say "installed: postgresql"
if ! have_server; then
    fail "postgresql installed, but no initdb found under /usr/lib/postgresql/*/bin"
fi
if ! have_user; then
    fail "running as root, but there is no postgres user (or runuser) to run the test cluster as"
fi
exit 0
