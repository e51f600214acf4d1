#!/usr/bin/env bash
# Runs the official Python SDK (porter-sandbox==0.1.68, from PyPI, in its own virtualenv) against
# a fresh `porter-sandbox serve`. Usage: tests/compat/run_official_sdk.sh [path/to/porter-sandbox]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/debug/porter-sandbox}"
venv="${OFFICIAL_SDK_VENV:-$root/target/official-sdk-venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet porter-sandbox==0.1.68
fi

data="$(mktemp -d)"
out="$(mktemp)"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --ephemeral --metrics-interval 0.5 >"$out" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$out"' EXIT
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$out" && break
    sleep 0.05
done
url="$(sed -n 's/^listening on //p' "$out")"
[ -n "$url" ] || { echo "the server did not start" >&2; exit 1; }

for script in official_sdk_smoke.py official_sdk_features.py; do
    env -u PORTER_SANDBOX_API_KEY -u PORTER_CLUSTER_ID PORTER_SANDBOX_BASE_URL="$url" \
        "$venv/bin/python" "$here/$script"
done
