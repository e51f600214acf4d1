#!/usr/bin/env bash
# The Node package (node/): install its dev tools, build the native module (napi-rs, release),
# type-check the TypeScript examples with --strict, and run its tests (node --test) against a
# local `porter-sandbox serve` that the tests start.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node and npm are required for the Node package" >&2
    exit 1
fi
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
cargo build --quiet -p porter-sandbox-cli
export PORTER_SANDBOX_BIN="$target/debug/porter-sandbox"

cd node
echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "== npm run build (napi build --release)"
npm run build
echo "== tsc --noEmit --strict -p examples"
npx --no-install tsc --noEmit --strict -p examples
echo "== npm test (node --test)"
npm test
