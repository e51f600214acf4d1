#!/usr/bin/env bash
# Fuzzes a fresh `porter-sandbox serve` from spec/openapi.json with schemathesis (from PyPI, in
# its own virtualenv under the target directory): a fixed number of examples per operation and a
# time limit. Fails on any 5xx and on any response (status, content type, headers, body) that
# the document does not describe.
#
# Usage: tests/fuzz/run_schemathesis.sh [path/to/porter-sandbox]
# Knobs: FUZZ_EXAMPLES (per operation, default 25), FUZZ_MAX_TIME and FUZZ_STATEFUL_TIME (seconds
# for the single-request and the stateful run, default 90 and 60), FUZZ_SEED (default 1, so a
# run can be repeated).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${1:-$target/debug/porter-sandbox}"
venv="${SCHEMATHESIS_VENV:-$target/schemathesis-venv}"
version=4.32.5

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

# shellcheck source=../../scripts/lib/local-server.sh
source "$root/scripts/lib/local-server.sh"
start_local_server "$bin" --offline-images host

# Sandboxes the fuzzer creates run the built-in `host` image: any other reference would make the
# server pull from a registry, and generated names can be any host on any network.
schema="$server_dir/openapi.json"
python3 - "$root/spec/openapi.json" "$schema" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["components"]["schemas"]["SandboxSpec"]["properties"]["image"] = {"const": "host"}
json.dump(doc, open(sys.argv[2], "w"))
PY

report="$target/schemathesis-report"
rm -rf "$report"
# Two bounded runs against the same server: single requests (examples from the document,
# boundary values, then random ones until the time is spent), then stateful sequences that
# follow the links schemathesis infers (create a volume, then list, write and move its files…).
fuzz() {
    local phases="$1" max_time="$2"
    # From the server's directory: schemathesis keeps a cache in the working directory.
    (cd "$server_dir" && NO_COLOR=1 "$venv/bin/schemathesis" run "$schema" \
        --url "$server_url" \
        --header "Authorization: Bearer $server_key" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth,unsupported_method \
        --phases "$phases" \
        --max-examples "${FUZZ_EXAMPLES:-25}" \
        --max-time "$max_time" \
        --seed "${FUZZ_SEED:-1}" \
        --workers 2 \
        --request-timeout 30 \
        --generation-database none \
        --report junit --report-dir "$report/$phases" \
        --no-color)
}
status=0
fuzz examples,coverage,fuzzing "${FUZZ_MAX_TIME:-90}" || status=$?
fuzz stateful "${FUZZ_STATEFUL_TIME:-60}" || status=$?
if [ "$status" -ne 0 ]; then
    echo "schemathesis found problems (report in $report); the server log follows:" >&2
    tail -n 50 "$server_dir/server.log" >&2
fi
exit "$status"
