#!/usr/bin/env bash
# Install Debian's zbar-tools for the pairing tests (tests/clients/test_signin_browser.py):
# `zbarimg` decodes an image of the QR code that `opencode-auth-tui pair` prints, so
# the test proves with a real decoder that the code leads back to the link.
# Idempotent and quiet; it never starts anything.
set -u
NAME=install-zbar
. "$(dirname "$0")/lib.sh"

have_zbarimg() { command -v zbarimg >/dev/null 2>&1 && zbarimg --version >/dev/null 2>&1; }
if have_zbarimg; then
    exit 0
fi
apt_install 600 zbar-tools
have_zbarimg || fail "zbar-tools was installed but zbarimg --version does not run"
say "installed: zbar-tools (zbarimg $(zbarimg --version 2>/dev/null))"
exit 0
