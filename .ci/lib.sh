# Sourced by the .ci/install-*.sh scripts (set NAME first): `say`, `fail` and, for
# the Debian packages, `apt_install`, so each script only says what it wants and
# how to tell it is there.
#
# Under CI (the environment variable CI is set) `fail` exits non-zero, so CI fails
# instead of the tests skipping; elsewhere it says why and exits 0, and the tests
# that need the component skip with that reason.

say() { echo "$NAME: $*"; }

fail() {
    if [ -n "${CI:-}" ]; then
        say "$* (CI is set: failing)"
        exit 1
    fi
    say "$*; the tests that need it will skip"
    exit 0
}

# apt_install SECONDS PACKAGE...: install from Debian, quietly, without starting any
# service the packages bring (policy-rc.d answers 101 for the install's duration);
# `fail`s with the last lines of apt's output when it cannot.
apt_install() {
    local seconds="$1"
    shift
    local want="$*"
    if ! command -v apt-get >/dev/null 2>&1; then
        fail "$want missing and no apt-get"
    fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            fail "$want missing and not root (no passwordless sudo)"
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    local log policy=/usr/sbin/policy-rc.d created_policy=0 ok=0
    log="$(mktemp)"
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null \
            && $sudo chmod +x "$policy" && created_policy=1
    fi
    if timeout 600 $sudo apt-get update -qq >"$log" 2>&1 \
        && timeout "$seconds" $sudo apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1; then
        ok=1
    else
        say "apt-get install $want failed (package source unreachable?):"
        tail -n 5 "$log" | sed "s/^/$NAME:   /"
    fi
    if [ "$created_policy" = 1 ]; then $sudo rm -f "$policy"; fi
    rm -f "$log"
    [ "$ok" = 1 ] || fail "$want not installed"
}
