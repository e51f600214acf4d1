#!/usr/bin/env bash
# The main job: start the local server, take a sandbox through create → exec → logs →
# terminate with the Rust client, then stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
source scripts/lib/local-server.sh
start_local_server "$target/debug/porter-sandbox"
echo "server: $server_url"
PORTER_SANDBOX_BASE_URL="$server_url" PORTER_SANDBOX_API_KEY="$server_key" \
    cargo run --quiet -p porter-sandbox --example quickstart
