#!/usr/bin/env bash
# Make sure nginx (and caddy, for the Caddy example) are installed from Debian for
# the forward-auth tests. Idempotent and quiet. The tests start their own
# nginx/caddy on loopback with a temporary config; this script never starts or
# enables a system service.
set -u
NAME=install-nginx
. "$(dirname "$0")/lib.sh"

want=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want+=(nginx)
command -v caddy >/dev/null 2>&1 || want+=(caddy)
if [ "${#want[@]}" -eq 0 ]; then
    exit 0
fi
apt_install 600 "${want[@]}"
say "installed: ${want[*]}"
exit 0
