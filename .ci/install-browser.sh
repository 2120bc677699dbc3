#!/usr/bin/env bash
# Install Debian's `chromium` for the real-client tests (tests/clients): Playwright for
# Python drives it through `executable_path`, because Playwright's own browser
# download cannot be used here. tmux is installed too (the `opencode attach` test
# drives opencode's TUI in it). Idempotent and quiet; it never starts anything.
set -u
NAME=install-browser
. "$(dirname "$0")/lib.sh"

have_chromium() { [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; }
want=()
have_chromium || want+=(chromium)
command -v tmux >/dev/null 2>&1 || want+=(tmux)
if [ "${#want[@]}" -eq 0 ]; then
    exit 0
fi
apt_install 900 "${want[@]}"
if [[ " ${want[*]} " == *" chromium "* ]]; then
    have_chromium || fail "chromium was installed but /usr/bin/chromium --version does not run"
    say "installed: ${want[*]} ($(/usr/bin/chromium --version 2>/dev/null))"
else
    say "installed: ${want[*]}"
fi
exit 0
