#!/usr/bin/env bash
# The cross-language conformance suite: every scenario in tests/conformance/scenarios/, run by
# the runner of every language (Rust, Python sync, Python async, Node, Kotlin) against one local
# `porter-sandbox serve` and the scripted fault server; prints one matrix and exits non-zero on
# any failure or gap.
#
# It reuses what the other scripts built (run them first, as scripts/test.sh does):
#   the debug porter-sandbox binary (cargo build -p porter-sandbox-cli)
#   the Python venv with the package installed     (scripts/python.sh)
#   the Node native module in node/                 (scripts/node.sh)
#   kotlin/target/{classes,test-classes,classpath.txt} (scripts/kotlin.sh)
# and builds only the Rust runner (an example of the cli crate; fast once the crate is built).
#
#   bash tests/conformance/run.sh [--runtime kubernetes] [RUNNER...]     (default: all five)
#
# --runtime kubernetes runs the scenarios that talk to the local server against `serve --runtime
# kubernetes` on the cluster of `scripts/k8s/with-cluster.sh --real-node` (its environment names
# the cluster): the sandboxes' image `host` becomes `busybox:1.36` (the node's test image), and
# not_applicable.kubernetes.json adds the cells this runtime refuses, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
here="$root/tests/conformance"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venv="${PYTHON_VENV:-$target/python-venv}"
runtime=oci
if [ "${1:-}" = --runtime ]; then
    runtime="${2:-}"
    shift 2 || true
fi
case "$runtime" in
    oci) ;;
    kubernetes)
        for var in KUBECONFIG_SERVER PORTER_K8S_NAMESPACE PORTER_K8S_REAL_NODE PORTER_K8S_CLUSTER_DIR; do
            if [ -z "${!var:-}" ]; then
                echo "error: --runtime kubernetes needs a cluster with a real node: run" \
                    "scripts/k8s/with-cluster.sh --real-node bash $0 --runtime kubernetes ($var is unset)" >&2
                exit 2
            fi
        done ;;
    *) echo "error: --runtime is oci or kubernetes, not ${runtime@Q}" >&2; exit 2 ;;
esac
runners=("$@")
[ ${#runners[@]} -gt 0 ] || runners=(rust python-sync python-async node kotlin)

missing=()
[ -x "$target/debug/porter-sandbox" ] || missing+=("$target/debug/porter-sandbox (cargo build -p porter-sandbox-cli)")
for runner in "${runners[@]}"; do
    case "$runner" in
        python-*) [ -x "$venv/bin/python" ] || missing+=("$venv (scripts/python.sh)") ;;
        node) compgen -G "node/porter-sandbox.*.node" >/dev/null ||
            missing+=("node/porter-sandbox.*.node (scripts/node.sh)") ;;
        kotlin)
            compiled=kotlin/target/test-classes/run/porter/sandbox/conformance/ConformanceRunnerKt.class
            if [ ! -s kotlin/target/classpath.txt ] || [ ! -f "$compiled" ]; then
                missing+=("kotlin/target/test-classes and classpath.txt (scripts/kotlin.sh)")
            elif [ -n "$(find "$here/runners/kotlin" -newer "$compiled" -name '*.kt')" ]; then
                missing+=("a Kotlin runner compiled from the current sources (scripts/kotlin.sh)")
            fi ;;
    esac
done
if [ ${#missing[@]} -gt 0 ]; then
    printf 'error: the conformance suite reuses artifacts that are missing:\n' >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi

if [[ " ${runners[*]} " == *" rust "* ]]; then
    echo "== the Rust runner (cargo build --example conformance)"
    cargo build --quiet -p porter-sandbox-cli --example conformance
fi

results="$(mktemp -d)"
fault_pid=""
source "$root/scripts/lib/local-server.sh"
cleanup() {
    if [ -n "$fault_pid" ]; then
        kill "$fault_pid" 2>/dev/null || true
        wait "$fault_pid" 2>/dev/null || true
    fi
    stop_local_server
    rm -rf "$results"
}
scenarios="$here/scenarios"
not_applicable="$here/not_applicable.json"
if [ "$runtime" = kubernetes ]; then
    # Only the scenarios of the local server; `host` is the oci runtime's own image.
    python3 "$here/for_runtime.py" "$here" "$results" kubernetes busybox:1.36
    scenarios="$results/scenarios"
    not_applicable="$results/not_applicable.json"
    echo "== the agent image porter-sandbox:test into the node"
    scripts/k8s/node.sh load-agent "$PORTER_K8S_CLUSTER_DIR" "$target/debug/porter-sandbox" >/dev/null
    # Small default requests: the node has the machine's few cores, and five runners run at once.
    start_local_server "$target/debug/porter-sandbox" --runtime kubernetes \
        --kubeconfig "$KUBECONFIG_SERVER" --namespace "$PORTER_K8S_NAMESPACE" \
        --kube-agent-image porter-sandbox:test --default-cpu 50m --default-memory 64Mi
else
    start_local_server "$target/debug/porter-sandbox" --offline-images host
fi
trap cleanup EXIT

python3 "$here/fault_server.py" "$here/scenarios" "$results/fault.json" 2>"$results/fault.log" &
fault_pid=$!
for _ in $(seq 1 200); do
    [ -s "$results/fault.json" ] && break
    kill -0 "$fault_pid" 2>/dev/null || { cat "$results/fault.log" >&2; exit 1; }
    sleep 0.05
done

# What each runner reads (README.md): where the servers are, what to skip, where to write.
export CONFORMANCE_SCENARIOS="$scenarios"
export CONFORMANCE_FIXTURES="$root/core/tests/fixtures/types"
export CONFORMANCE_LOCAL_URL="$server_url"
export CONFORMANCE_LOCAL_KEY="$server_key"
CONFORMANCE_FAULT_URL="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$results/fault.json")"
export CONFORMANCE_FAULT_URL
# The clients must not find another server's key or URL in the environment or discovery file.
unset PORTER_SANDBOX_API_KEY PORTER_SANDBOX_BASE_URL PORTER_CLUSTER_ID KUBERNETES_SERVICE_HOST
export PORTER_SANDBOX_DISCOVERY_FILE=none

skip_for() {
    python3 - "$not_applicable" "$1" <<'EOF'
import json, sys
table = json.load(open(sys.argv[1]))
print(",".join(name for name, cells in table.items()
               if name != "_comment" and (sys.argv[2] in cells or "*" in cells)))
EOF
}

run_one() {
    local runner="$1"
    local -a command
    case "$runner" in
        rust) command=("$target/debug/examples/conformance") ;;
        python-sync) command=("$venv/bin/python" "$here/runners/python_runner.py" --mode sync) ;;
        python-async) command=("$venv/bin/python" "$here/runners/python_runner.py" --mode async) ;;
        node) command=(node "$here/runners/node_runner.mjs") ;;
        kotlin) command=(java -cp "kotlin/target/classes:kotlin/target/test-classes:$(cat kotlin/target/classpath.txt)"
                         run.porter.sandbox.conformance.ConformanceRunnerKt) ;;
        *) echo "unknown runner $runner" >&2; return 1 ;;
    esac
    CONFORMANCE_OUT="$results/$runner.jsonl" CONFORMANCE_SKIP="$(skip_for "$runner")" \
        "${command[@]}" >"$results/$runner.log" 2>&1
}

echo "== ${#runners[@]} runners × $(ls "$scenarios" | wc -l) scenarios ($runtime runtime), in parallel"
started=$SECONDS
declare -A pids
for runner in "${runners[@]}"; do
    run_one "$runner" &
    pids[$runner]=$!
done
for runner in "${runners[@]}"; do
    if ! wait "${pids[$runner]}"; then
        echo "-- the $runner runner exited with an error; its output:" >&2
        tail -n 40 "$results/$runner.log" >&2
    fi
done
echo "(runners took $((SECONDS - started)) s)"

status=0
python3 "$here/check.py" "$scenarios" "$not_applicable" "$CONFORMANCE_FIXTURES" \
    "$results" "${runners[@]}" || status=$?
if [ -n "${CONFORMANCE_KEEP:-}" ]; then
    cp -r "$results" "$CONFORMANCE_KEEP" && echo "results kept in $CONFORMANCE_KEEP"
fi
exit "$status"
