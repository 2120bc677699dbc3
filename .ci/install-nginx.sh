#!/usr/bin/env bash
# Make sure nginx (and caddy, for the Caddy example) are installed from Debian for
# the forward-auth tests. Idempotent and quiet. The tests start their own
# nginx/caddy on loopback with a temporary config; this script never starts or
# enables a system service.
#
# Under CI (the environment variable CI is set) a failed install exits non-zero,
# so CI fails instead of the tests skipping; elsewhere it says why and exits 0.
set -u
say() { echo "install-nginx: $*"; }
fail() {
    if [ -n "${CI:-}" ]; then
        say "$* (CI is set: failing)"
        exit 1
    fi
    say "$*; the tests that need it will skip"
    exit 0
}

want=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want="nginx"
command -v caddy >/dev/null 2>&1 || want="$want caddy"
want="${want# }"
if [ -z "$want" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    fail "$want missing and no apt-get"
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        fail "$want missing and not root (no passwordless sudo)"
    fi
fi
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
# policy-rc.d 101: do not start the system nginx service on install
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
if timeout 600 $SUDO apt-get update -qq >"$log" 2>&1 \
    && timeout 600 $SUDO apt-get install -y -qq --no-install-recommends $want >>"$log" 2>&1; then
    say "installed: $want"
else
    say "apt-get install $want failed (package source unreachable?):"
    tail -n 5 "$log" | sed 's/^/install-nginx:   /'
    [ "$created_policy" = 1 ] && $SUDO rm -f "$policy"
    rm -f "$log"
    fail "$want not installed"
fi
[ "$created_policy" = 1 ] && $SUDO rm -f "$policy"
rm -f "$log"
exit 0
