#!/usr/bin/env bash
# The benchmark of `serve --runtime kubernetes` on a real node (kubelet + containerd + runc of
# scripts/k8s/node.sh, a throwaway cluster of scripts/k8s/with-cluster.sh): create → running,
# time to interactive, the exec round trip through the pod's agent, terminate, and a burst of
# concurrent creates. Prints one table and writes it as JSON.
#
#   bash bench/kubernetes.sh [--runs N] [--smoke] [--prebuilt] [--json FILE]
#
#   --runs N     rounds (default 3); each figure is the median over the rounds
#   --smoke      tiny counts, one round
#   --prebuilt   use target/release/porter-sandbox and target/bench-venv as they are
#   --json FILE  where the JSON goes (default bench/results/kubernetes.json)
#
# Needs what the real-node tier needs (scripts/setup.sh; the Kubernetes binaries are built into
# ~/.cache/porter-sandbox/k8s on a cache miss) and root. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"

runs=3 smoke=0 prebuilt=0 json="$root/bench/results/kubernetes.json"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --smoke) smoke=1; shift ;;
        --prebuilt) prebuilt=1; shift ;;
        --json) json="$2"; shift 2 ;;
        --inside) shift; break ;;
        *) echo "usage: bench/kubernetes.sh [--runs N] [--smoke] [--prebuilt] [--json FILE]" >&2; exit 2 ;;
    esac
done
bin="$target/release/porter-sandbox"
venv="$target/bench-venv"

if [ -z "${PORTER_K8S_CLUSTER_DIR:-}" ]; then
    if [ "$prebuilt" = 0 ]; then
        echo "== cargo build --release -p porter-sandbox-cli" >&2
        nice -n 10 cargo build --quiet --release -p porter-sandbox-cli
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        echo "== pip install ./python (release) into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python
    fi
    [ -x "$bin" ] && [ -x "$venv/bin/python" ] || { echo "error: no $bin or $venv: run without --prebuilt" >&2; exit 1; }
    # Again inside a cluster with a real node (stopped when this ends).
    exec scripts/k8s/with-cluster.sh --real-node bash "$0" --inside "$runs" "$smoke" "$json"
fi

runs=$1 smoke=$2 json=$3
if [ "$smoke" = 1 ]; then
    runs=1 sequential=2 execs=20 burst=2
else
    sequential=20 execs=200 burst=10
fi
echo "== the agent image porter-sandbox:test (the release binary) into the node" >&2
scripts/k8s/node.sh load-agent "$PORTER_K8S_CLUSTER_DIR" "$bin" >/dev/null
# shellcheck source=../scripts/lib/local-server.sh
source scripts/lib/local-server.sh
# Small requests: the node has the machine's few cores and the burst's pods must all fit.
start_local_server "$bin" --runtime kubernetes --kubeconfig "$KUBECONFIG_SERVER" \
    --namespace "$PORTER_K8S_NAMESPACE" --kube-agent-image porter-sandbox:test \
    --default-cpu 50m --default-memory 64Mi
export PORTER_SANDBOX_BASE_URL="$server_url" PORTER_SANDBOX_API_KEY="$server_key"
mkdir -p "$server_dir/runs"
for run in $(seq 1 "$runs"); do
    echo "== round $run/$runs: sequential $sequential, $execs execs, burst $burst" >&2
    "$venv/bin/python" bench/kubernetes.py "$server_url" "$sequential" "$execs" "$burst" \
        >"$server_dir/runs/$run.json"
done
mkdir -p "$(dirname "$json")"
python3 - "$server_dir/runs" "$json" "$runs" <<'PY'
import json, os, statistics, sys
runs_dir, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = [json.load(open(os.path.join(runs_dir, f"{i}.json"))) for i in range(1, runs + 1)]
rows = [
    ("create -> running p50", "create_running_p50_ms", "ms"),
    ("create -> running p95", "create_running_p95_ms", "ms"),
    ("time to interactive p50", "tti_p50_ms", "ms"),
    ("time to interactive p95", "tti_p95_ms", "ms"),
    ("exec round trip p50", "exec_p50_ms", "ms"),
    ("exec round trip p95", "exec_p95_ms", "ms"),
    ("terminate p50", "terminate_p50_ms", "ms"),
    ("burst: wall until all answered", "burst_wall_ms", "ms"),
    ("burst: failed sandboxes", "burst_failed", ""),
]
table = []
print(f"serve --runtime kubernetes on a real node (median of {runs} round(s))\n")
print(f"| Figure | Value |\n| --- | --- |")
for label, key, unit in rows:
    value = statistics.median(r[key] for r in rounds)
    table.append({"figure": label, "key": key, "value": value, "unit": unit})
    shown = f"{value:,.1f} {unit}" if unit else f"{value:g}"
    print(f"| {label} | {shown} |")
json.dump({"rows": table, "rounds": rounds}, open(out, "w"), indent=1)
print(f"\n(written to {out})")
PY
