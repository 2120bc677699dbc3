#!/usr/bin/env bash
# Install Debian's `chromium` for the real-client tests (tests/clients): Playwright for
# Python drives it through `executable_path`, because Playwright's own browser
# download cannot be used here. tmux is installed too (the `opencode attach` test
# drives opencode's TUI in it). Idempotent and quiet; it never starts anything.
#
# Under CI (the environment variable CI is set) a failed install exits non-zero, so
# that CI fails instead of the browser tests skipping; elsewhere it says why and
# exits 0, and the tests that need the browser skip with that reason.
set -u
say() { echo "install-browser: $*"; }
fail() {
    if [ -n "${CI:-}" ]; then
        say "$* (CI is set: failing)"
        exit 1
    fi
    say "$*; the tests that need it will skip"
    exit 0
}

have_chromium() { [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; }
want=""
have_chromium || want="chromium"
command -v tmux >/dev/null 2>&1 || want="$want tmux"
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
if timeout 600 $SUDO apt-get update -qq >"$log" 2>&1 \
    && timeout 900 $SUDO apt-get install -y -qq --no-install-recommends $want >>"$log" 2>&1; then
    :
else
    say "apt-get install $want failed (package source unreachable?):"
    tail -n 5 "$log" | sed 's/^/install-browser:   /'
    rm -f "$log"
    fail "$want not installed"
fi
rm -f "$log"
if [[ " $want " == *" chromium "* ]] && ! have_chromium; then
    fail "chromium was installed but /usr/bin/chromium --version does not run"
fi
if [[ " $want " == *" chromium "* ]]; then
    say "installed: $want ($(/usr/bin/chromium --version 2>/dev/null))"
else
    say "installed: $want"
fi
exit 0
