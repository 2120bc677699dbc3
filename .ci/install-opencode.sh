#!/usr/bin/env bash
# Install a real `opencode serve` (npm package opencode-ai) for the gateway tests,
# into .ci/work/node (ignored by git). Idempotent and quiet. Under CI (the
# environment variable CI is set) a failed install exits non-zero, so CI fails
# instead of the tests skipping; elsewhere it says why and exits 0.
#
# The package's postinstall only links the binary from the platform package
# (opencode-linux-x64, ...), which npm fetches from the registry like any other
# dependency: nothing is downloaded from elsewhere.
set -u
VERSION="${OPENCODE_VERSION:-1.18.33}"
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.ci/work/node"
bin="$prefix/node_modules/.bin/opencode"
log="$root/.ci/work/install-opencode.log"

NAME=install-opencode
. "$root/.ci/lib.sh"

if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$VERSION" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    fail "npm/node not found"
fi
mkdir -p "$prefix"
if ! timeout 600 npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier \
        --loglevel=error "opencode-ai@$VERSION" >"$log" 2>&1; then
    say "npm install opencode-ai@$VERSION failed (registry unreachable?):"
    tail -n 5 "$log" | sed 's/^/install-opencode:   /'
    fail "opencode not installed"
fi
if ! "$bin" --version >/dev/null 2>&1; then
    # Some npm versions skip install scripts; run the package's own linker step.
    (cd "$prefix/node_modules/opencode-ai" && node ./postinstall.mjs) >>"$log" 2>&1 || true
fi
if ! "$bin" --version >/dev/null 2>&1; then
    fail "opencode was installed but does not run on this machine"
fi
say "opencode $("$bin" --version) installed in ${prefix#"$root/"}"
exit 0
