#!/usr/bin/env bash
# Runs the official Python SDK (porter-sandbox==0.1.68, from PyPI, in its own virtualenv) against
# a fresh `porter-sandbox serve`. Usage: tests/compat/run_official_sdk.sh [path/to/porter-sandbox]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${1:-$target/debug/porter-sandbox}"
venv="${OFFICIAL_SDK_VENV:-$target/official-sdk-venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet porter-sandbox==0.1.68
fi

# shellcheck source=../../scripts/lib/local-server.sh
source "$root/scripts/lib/local-server.sh"
start_local_server "$bin" --metrics-interval 0.5 --offline-images host

# The official SDK knows nothing of discovery: it is given the server's generated key the
# documented way, in PORTER_SANDBOX_API_KEY.
for script in official_sdk_smoke.py official_sdk_features.py; do
    env -u PORTER_CLUSTER_ID PORTER_SANDBOX_BASE_URL="$server_url" \
        PORTER_SANDBOX_API_KEY="$server_key" "$venv/bin/python" "$here/$script"
done
