#!/usr/bin/env bash
# Install opencode's JS SDK (npm package @opencode-ai/sdk) at the same version as
# opencode (OPENCODE_VERSION, default 1.18.33) into .ci/work/node (ignored by git),
# beside the opencode-ai package that .ci/install-opencode.sh puts there; the test
# script tests/clients/sdk_list_sessions.mjs imports it from there. Idempotent and quiet.
#
# Under CI (the environment variable CI is set) a failed install exits non-zero, so
# that CI fails instead of the SDK test skipping; elsewhere it says why and exits 0.
set -u
VERSION="${OPENCODE_VERSION:-1.18.33}"
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.ci/work/node"
pkg="$prefix/node_modules/@opencode-ai/sdk/package.json"
log="$root/.ci/work/install-sdk.log"

NAME=install-sdk
. "$root/.ci/lib.sh"
installed_version() {
    [ -f "$pkg" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pkg" 2>/dev/null
}

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    fail "npm/node not found"
fi
if [ "$(installed_version)" = "$VERSION" ]; then
    exit 0
fi
mkdir -p "$prefix"
if ! timeout 600 npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier --save-exact \
        --loglevel=error "@opencode-ai/sdk@$VERSION" >"$log" 2>&1; then
    tail -n 5 "$log" | sed 's/^/install-sdk:   /'
    fail "npm install @opencode-ai/sdk@$VERSION failed (registry unreachable?)"
fi
if [ "$(installed_version)" != "$VERSION" ]; then
    fail "@opencode-ai/sdk@$VERSION was not found in ${prefix#"$root/"} after npm install"
fi
say "@opencode-ai/sdk $VERSION installed in ${prefix#"$root/"}"
exit 0
