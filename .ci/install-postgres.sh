#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are installed
# from Debian for the database-store tests. Idempotent and quiet. The tests start
# their own throw-away cluster in a temporary folder, on a unix socket only
# (tests/pg/cluster.py); this script never starts or enables a system service.
# As root, the cluster runs as the `postgres` user the package creates (PostgreSQL
# refuses to run as root).
#
# Under CI (the environment variable CI is set) a failed install exits non-zero,
# so CI fails instead of the tests skipping; elsewhere it says why and exits 0.
set -u
say() { echo "install-postgres: $*"; }
fail() {
    if [ -n "${CI:-}" ]; then
        say "$* (CI is set: failing)"
        exit 1
    fi
    say "$*; the tests that need it will skip"
    exit 0
}

have_server() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}
have_user() {
    [ "$(id -u)" != "0" ] || { getent passwd postgres >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; }
}
if have_server && have_user; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    fail "postgresql missing and no apt-get"
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        fail "postgresql missing and not root (no passwordless sudo)"
    fi
fi
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
# policy-rc.d 101: do not start the system PostgreSQL service on install
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
if timeout 600 $SUDO apt-get update -qq >"$log" 2>&1 \
    && timeout 600 $SUDO apt-get install -y -qq --no-install-recommends postgresql util-linux >>"$log" 2>&1; then
    say "installed: postgresql"
else
    say "apt-get install postgresql failed (package source unreachable?):"
    tail -n 5 "$log" | sed 's/^/install-postgres:   /'
    [ "$created_policy" = 1 ] && $SUDO rm -f "$policy"
    rm -f "$log"
    fail "postgresql not installed"
fi
[ "$created_policy" = 1 ] && $SUDO rm -f "$policy"
rm -f "$log"
if ! have_server; then
    fail "postgresql installed, but no initdb found under /usr/lib/postgresql/*/bin"
fi
if ! have_user; then
    fail "running as root, but there is no postgres user (or runuser) to run the test cluster as"
fi
exit 0
