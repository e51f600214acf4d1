#!/usr/bin/env bash
# The main job: start the local server, take a sandbox through create → exec → logs →
# terminate with the Rust client, then stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."

data="$(mktemp -d)"
out="$(mktemp)"
target/debug/porter-sandbox serve --listen 127.0.0.1:0 --data-dir "$data" --ephemeral >"$out" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$out"' EXIT
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$out" && break
    sleep 0.05
done
url="$(sed -n 's/^listening on //p' "$out")"
echo "server: $url"
PORTER_SANDBOX_BASE_URL="$url" cargo run --quiet -p porter-sandbox --example quickstart
