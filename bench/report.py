"""The table of bench/run.sh: reads each round's raw figures, takes the median of every figure
over the rounds, prints one table and writes it as JSON (rows plus the raw rounds) for comparing
runs.

Usage: report.py RUNS_DIR JSON_FILE --runs N [--require-all]
(--require-all: exit 1 when a row has no number, which is all the smoke run checks), or
report.py --merge JSON_FILE OUTPUT_JSON_FILE...: one table of the rounds of several earlier runs
(e.g. runs of two builds taken in turn, one round each)."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from typing import Any


def load_round(directory: str) -> dict[str, float]:
    """One round's figures, flattened to `source.key` names."""
    figures: dict[str, float] = {}

    def read(name: str) -> str | None:
        try:
            with open(os.path.join(directory, name)) as f:
                return f.read().strip()
        except OSError:
            return None

    for name in ("healthz", "status"):
        text = read(name)
        if text:
            figures[f"wrk.{name}"] = float(text)
    for name in ("python-ours", "python-official", "crun", "start"):
        text = read(f"{name}.json")
        if text:
            for key, value in json.loads(text).items():
                figures[f"{name}.{key}"] = float(value)
    text = read("node.json")
    if text:
        for row in json.loads(text):
            label = row["label"].split(" ")[0] + (" seq" if "sequential" in row["label"] else "")
            figures[f"node.{label}.porter"] = float(row["porter"])
            figures[f"node.{label}.fetch"] = float(row["fetch"])
    return figures


# (figure, unit, ours key, reference key or None, reference name, higher is better, target)
ROWS = [
    ("Python sync Sandbox.refresh()", "calls/s", "python-ours.sync_refresh_per_s",
     "python-official.sync_refresh_per_s", "official 0.1.68", True, ">= 5x"),
    ("Python async sequential refresh()", "calls/s", "python-ours.async_sequential_per_s",
     "python-official.async_sequential_per_s", "official 0.1.68", True, ">= 5x"),
    ("asyncio.gather of refresh()", "calls/s", "python-ours.async_gather_per_s",
     "python-official.async_gather_per_s", "official 0.1.68", True, ">= 20x"),
    ("Python Volume.stream", "MB/s", "python-ours.stream_mb_per_s",
     "python-official.stream_mb_per_s", "official 0.1.68", True, ">= 2x"),
    ("import porter_sandbox", "ms", "python-ours.import_ms", "python-official.import_ms",
     "official 0.1.68", False, "keep"),
    ("Node refresh() sequential", "calls/s", "node.refresh() seq.porter",
     "node.refresh() seq.fetch", "plain fetch", True, ""),
    ("Node volume.stream()", "MB/s", "node.stream.porter", "node.stream.fetch", "plain fetch",
     True, ">= 2x"),
    ("server status read, 1 connection", "req/s", "wrk.status", "wrk.healthz",
     "its /healthz (wrk)", True, ">= 0.9x"),
    ("create -> running p50", "ms", "start.create_running_p50_ms", "crun.crun_p50_ms",
     "crun run alone p50", False, "<= 40 ms"),
    ("create -> running p95", "ms", "start.create_running_p95_ms", "crun.crun_p95_ms",
     "crun run alone p95", False, ""),
    ("time to interactive p50 (sequential)", "ms", "start.tti_p50_ms", None, "", False,
     "<= 50 ms"),
    ("time to interactive p95 (sequential)", "ms", "start.tti_p95_ms", None, "", False, ""),
    ("time to interactive p50 (staggered)", "ms", "start.staggered_tti_p50_ms", None, "", False,
     ""),
    ("time to interactive p95 (staggered)", "ms", "start.staggered_tti_p95_ms", None, "", False,
     ""),
    ("burst: time to interactive p50", "ms", "start.burst_tti_p50_ms", None, "", False, ""),
    ("burst: time to interactive p95", "ms", "start.burst_tti_p95_ms", None, "", False, ""),
    ("burst: wall until all answered", "ms", "start.burst_wall_ms", None, "", False,
     "<= 3000 ms"),
    ("burst: failed sandboxes", "", "start.burst_failed", None, "", False, "0"),
    ("memory per idle sandbox", "MiB", "start.idle_sandbox_mib", None, "", False, "<= 1.5 MiB"),
]


def median(rounds: list[dict[str, float]], key: str | None) -> float | None:
    if key is None:
        return None
    values = [r[key] for r in rounds if key in r and math.isfinite(r[key])]
    return statistics.median(values) if values else None


def number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs_dir", help="the rounds' directory, or with --merge the output file")
    parser.add_argument("json_file", nargs="+")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--merge", action="store_true")
    parser.add_argument("--require-all", action="store_true")
    args = parser.parse_args()
    if args.merge:
        rounds = []
        for name in args.json_file:
            with open(name) as f:
                rounds.extend(json.load(f)["raw"])
        args.json_file = args.runs_dir
    else:
        names = sorted(os.listdir(args.runs_dir), key=int)
        rounds = [load_round(os.path.join(args.runs_dir, n)) for n in names]
        args.json_file = args.json_file[0]

    rows: list[dict[str, Any]] = []
    for figure, unit, ours_key, ref_key, ref_name, higher, target in ROWS:
        ours, ref = median(rounds, ours_key), median(rounds, ref_key)
        ratio = None
        if ours is not None and ref is not None and ours > 0 and ref > 0:
            ratio = ours / ref if higher else ref / ours
        rows.append({"figure": figure, "unit": unit, "ours": ours, "reference": ref,
                     "reference_name": ref_name, "ratio": ratio, "target": target})  # fmt: skip

    header = ("Figure", "Ours", "Reference", "Ratio", "Target")
    lines = [header, ("---",) * 5]
    for row in rows:
        unit = f" {row['unit']}" if row["unit"] else ""
        ref = f"{number(row['reference'])}{unit} ({row['reference_name']})" if row["reference_name"] else ""
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else ""
        lines.append((row["figure"], f"{number(row['ours'])}{unit}", ref, ratio, row["target"]))
    print(f"\nmedian of {len(rounds)} round(s); ratio: how many times better ours is")
    for line in lines:
        print("| " + " | ".join(line) + " |")

    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "rounds": len(rounds),
        "rows": rows,
        "raw": rounds,
    }
    with open(args.json_file, "w") as f:
        json.dump(document, f, indent=1)
    print(f"\nJSON: {args.json_file}")

    if args.require_all:
        missing = [r["figure"] for r in rows if r["ours"] is None
                   or (r["reference_name"] and r["reference"] is None)]  # fmt: skip
        if missing:
            print(f"error: no number for: {', '.join(missing)}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
