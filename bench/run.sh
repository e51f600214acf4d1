#!/usr/bin/env bash
# The benchmark: one command, one local release server, one table (and its JSON) with every
# figure of issue #17 side by side with its reference — the official Python SDK 0.1.68 (its own
# virtualenv), a plain `fetch` loop for Node, and the machine's limit (the server's `/healthz` and
# status read measured alone with wrk; crun starting a container alone) — plus the ComputeSDK
# method against our server (time to interactive: sequential, staggered, a burst of concurrent
# creates; memory per idle sandbox). Every measurement runs RUNS times, the two sides of a ratio
# alternating which goes first; the table shows the median of the runs.
#
#   bash bench/run.sh [--runs N] [--smoke] [--prebuilt] [--json FILE]
#
#   --runs N     rounds (default 3)
#   --smoke      tiny counts, one round (< 2 minutes); fails unless every row has a number
#   --prebuilt   build nothing: use target/release/porter-sandbox, dist/porter_sandbox-*.whl and
#                node/porter-sandbox.*.node as scripts/dist.sh left them (scripts/test.sh)
#   --json FILE  where the JSON goes (default bench/results/latest.json)
#
# With --prebuilt, BENCH_SERVER_BIN and BENCH_PYTHON_VENV (a virtualenv with our package
# installed) replace the release server and the wheel, e.g. to measure an older build.
#
# Needs root, crun, wrk and busybox-static (scripts/setup.sh installs them), python3, node/npm,
# and PyPI access the first time (the official SDK). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"

runs=3 smoke=0 prebuilt=0 json="$root/bench/results/latest.json"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --smoke) smoke=1; shift ;;
        --prebuilt) prebuilt=1; shift ;;
        --json) json="$2"; shift 2 ;;
        *) echo "usage: bench/run.sh [--runs N] [--smoke] [--prebuilt] [--json FILE]" >&2; exit 2 ;;
    esac
done
for tool in wrk crun busybox; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

# Counts: the full run, or the smoke run's tiny ones.
if [ "$smoke" = 1 ]; then
    runs=1 calls=50 gather=50 import_runs=1 stream_mib=4 node_seconds=0.3 node_concurrency=20
    wrk_seconds=1 crun_samples=2 sequential=2 staggered=2 stagger_ms=50 burst=3
else
    calls=2000 gather=1000 import_runs=7 stream_mib=64 node_seconds=3 node_concurrency=1000
    wrk_seconds=5 crun_samples=20 sequential=50 staggered=20 stagger_ms=100 burst=100
fi
started=$SECONDS
step() { echo "== $* ($((SECONDS - started)) s)" >&2; }

bin="${BENCH_SERVER_BIN:-$target/release/porter-sandbox}"
ours="${BENCH_PYTHON_VENV:-$target/bench-venv}"
official="${OFFICIAL_SDK_VENV:-$target/official-sdk-venv}"
[ -x "$ours/bin/python" ] || python3 -m venv "$ours"
if [ "$prebuilt" = 1 ]; then
    step "prebuilt artifacts"
    wheel="$(ls -t dist/porter_sandbox-*.whl 2>/dev/null | head -1 || true)"
    ls node/porter-sandbox.*.node >/dev/null 2>&1 || { echo "error: no node/porter-sandbox.*.node: run scripts/dist.sh" >&2; exit 1; }
    [ -x "$bin" ] || { echo "error: no $bin: run scripts/dist.sh" >&2; exit 1; }
    if [ -z "${BENCH_PYTHON_VENV:-}" ]; then
        [ -n "$wheel" ] || { echo "error: no dist/porter_sandbox-*.whl: run scripts/dist.sh" >&2; exit 1; }
        "$ours/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
    fi
else
    step "cargo build --release -p porter-sandbox-cli"
    nice -n 10 cargo build --quiet --release -p porter-sandbox-cli
    step "pip install ./python (release) into $ours"
    "$ours/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python
    step "node: napi build --release"
    (cd node && { [ -d node_modules/@napi-rs/cli ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build >/dev/null)
fi
if [ ! -x "$official/bin/python" ]; then
    step "the official SDK 0.1.68 into $official"
    python3 -m venv "$official"
    "$official/bin/pip" install --quiet porter-sandbox==0.1.68
fi

# shellcheck source=../scripts/lib/local-server.sh
source scripts/lib/local-server.sh
step "one local release server"
start_local_server "$bin" --offline-images host
export PORTER_SANDBOX_BASE_URL="$server_url" PORTER_SANDBOX_API_KEY="$server_key"
work="$server_dir"

# A running sandbox whose status everybody reads, and a volume holding the file everybody streams.
setup="$(cd "$work" && "$ours/bin/python" - "$server_url" "$stream_mib" <<'PY'
import sys, time
from porter_sandbox import Porter
porter = Porter(base_url=sys.argv[1])
sandbox = porter.sandboxes.create("host", command=["sleep", "3600"])
while sandbox.refresh().phase.value in ("queued", "creating"):
    time.sleep(0.01)
volume = porter.volumes.create(name="bench")
with open("bench.bin", "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(bytes([i % 251]) * (1 << 20))
with open("bench.bin", "rb") as f:
    volume.write_file("/bench.bin", f)
print(sandbox.id)
PY
)"
rm -f "$work/bench.bin"
status_url="$server_url/v1/sandbox/$setup"

wrk_rate() { # URL → requests/s of one connection, one thread
    wrk -t1 -c1 -d"${wrk_seconds}s" -H "Authorization: Bearer $server_key" "$1" |
        awk '/^Requests\/sec:/ { print $2 }'
}
python_side() { # VENV → one JSON line
    (cd "$work" && "$1/bin/python" "$root/bench/python_sdk.py" "$server_url" "$setup" bench \
        /bench.bin "$calls" "$gather" "$import_runs")
}

mkdir -p "$work/runs"
for run in $(seq 1 "$runs"); do
    out="$work/runs/$run"
    mkdir -p "$out"
    first=$((run % 2))  # which side goes first alternates between rounds
    step "round $run/$runs: wrk /healthz and the status read"
    for side in $first $((1 - first)); do
        if [ "$side" = 1 ]; then wrk_rate "$server_url/healthz" >"$out/healthz"; else wrk_rate "$status_url" >"$out/status"; fi
    done
    step "round $run/$runs: Python, ours and the official SDK"
    for side in $first $((1 - first)); do
        if [ "$side" = 1 ]; then python_side "$ours" >"$out/python-ours.json"; else python_side "$official" >"$out/python-official.json"; fi
    done
    step "round $run/$runs: Node, ours and fetch"
    (cd node && node bench/bench.mjs --seconds "$node_seconds" --stream-mib "$stream_mib" \
        --concurrency "$node_concurrency") | tail -1 >"$out/node.json"
    step "round $run/$runs: crun alone"
    "$ours/bin/python" bench/crun_alone.py "$crun_samples" >"$out/crun.json"
    step "round $run/$runs: starts (sequential $sequential, staggered $staggered, burst $burst)"
    (cd "$work" && "$ours/bin/python" "$root/bench/start.py" "$server_url" "$sequential" \
        "$staggered" "$stagger_ms" "$burst") >"$out/start.json"
done

step "report"
mkdir -p "$(dirname "$json")"
report_args=("$work/runs" "$json" --runs "$runs")
[ "$smoke" = 1 ] && report_args+=(--require-all)
python3 bench/report.py "${report_args[@]}"
step "done"
