#!/usr/bin/env bash
# Benchmark: our Python package against the official SDK 0.1.68, same server, one run.
# Prints, for both and as ratios: `import porter_sandbox` time and RSS, sync Sandbox.refresh()
# calls/s, async sequential calls/s, asyncio.gather of 1,000 refresh() calls/s, and
# Volume.stream MB/s of a 512 MiB file. A script, not a test: it asserts nothing.
#
# Usage: tests/bench/run_python_bench.sh [path/to/porter-sandbox]
# (default: target/release/porter-sandbox, built with `cargo build --release -p porter-sandbox-cli`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/release/porter-sandbox}"
ours="${PYTHON_VENV:-$root/target/python-venv}"
official="${OFFICIAL_SDK_VENV:-$root/target/official-sdk-venv}"

if [ ! -x "$bin" ]; then
    (cd "$root" && cargo build --quiet --release -p porter-sandbox-cli)
fi
if [ ! -x "$ours/bin/python" ]; then
    python3 -m venv "$ours"
fi
if ! "$ours/bin/python" -c "import porter_sandbox._native" 2>/dev/null; then
    "$ours/bin/python" -m pip install --quiet "$root/python"
fi
if [ ! -x "$official/bin/python" ]; then
    python3 -m venv "$official"
    "$official/bin/pip" install --quiet porter-sandbox==0.1.68
fi

source "$root/scripts/lib/local-server.sh"
start_local_server "$bin" --offline-images host
url="$server_url"
export PORTER_SANDBOX_API_KEY="$server_key"
work="$server_dir"

# One running sandbox and one volume holding a 512 MiB file, shared by both runs.
setup="$(cd "$work" && "$ours/bin/python" - "$url" <<'PY'
import sys, time
from porter_sandbox import Porter
porter = Porter(base_url=sys.argv[1])
sandbox = porter.sandboxes.create("host", command=["sleep", "3600"])
while sandbox.refresh().phase.value in ("queued", "creating"):
    time.sleep(0.05)
volume = porter.volumes.create(name="bench")
with open("bench.bin", "wb") as f:
    for _ in range(512):
        f.write(b"\xa5" * (1 << 20))
with open("bench.bin", "rb") as f:
    volume.write_file("/bench.bin", f)
print(sandbox.id)
PY
)"
rm -f "$work/bench.bin"

echo "server: $bin ($url)"
echo "running our package..." >&2
(cd "$work" && "$ours/bin/python" "$here/python_sdk_bench.py" "$url" "$setup" bench -) >"$work/ours.json"
echo "running the official SDK 0.1.68..." >&2
(cd "$work" && "$official/bin/python" "$here/python_sdk_bench.py" "$url" "$setup" bench -) >"$work/official.json"

python3 - "$work/ours.json" "$work/official.json" <<'PY'
import json, sys
ours, official = (json.load(open(p)) for p in sys.argv[1:3])
rows = [
    ("import porter_sandbox (ms)", "import_ms", True, "≤ 1/5"),
    ("RSS after import (MiB)", "import_rss_mib", True, ""),
    ("sync refresh() calls/s", "sync_refresh_per_s", False, "≥ 5x"),
    ("async sequential refresh() calls/s", "async_sequential_per_s", False, ""),
    ("asyncio.gather(1000 x refresh()) calls/s", "async_gather_1000_per_s", False, "≥ 20x"),
    ("Volume.stream 512 MiB (MB/s)", "stream_mb_per_s", False, "≥ 2x"),
    ("RSS at the end (MiB)", "rss_after_mib", True, ""),
]
print(f"{'measure':44} {'ours':>10} {'official':>10} {'ratio':>8}  target")
for label, key, lower_is_better, target in rows:
    a, b = ours[key], official[key]
    ratio = (b / a) if lower_is_better else (a / b)
    print(f"{label:44} {a:10.1f} {b:10.1f} {ratio:7.1f}x  {target}")
print("(ratio: how many times better ours is; for times and memory, official / ours)")
PY
