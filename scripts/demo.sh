#!/usr/bin/env bash
# The main job: start the local server, take a sandbox through create → exec → logs →
# terminate with the Rust client, then stop the server. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
echo "== building the server"
cargo build --quiet -p porter-sandbox-cli
source scripts/lib/local-server.sh
# The demo runs offline too: images whose registry is unreachable run on the `host` image.
if ! start_local_server "$target/debug/porter-sandbox" --offline-images host; then
    echo "error: the local server did not start (its messages are above); the demo stops here" >&2
    exit 1
fi
if [ -z "${server_url:-}" ] || [ -z "${server_key:-}" ]; then
    echo "error: the local server started but gave no URL or key; the demo stops here" >&2
    exit 1
fi
echo "server: $server_url"
PORTER_SANDBOX_BASE_URL="$server_url" PORTER_SANDBOX_API_KEY="$server_key" \
    cargo run --quiet -p porter-sandbox --example quickstart
