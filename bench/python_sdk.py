"""One SDK's side of the Python rows of bench/run.sh: run under our package's virtualenv and under
the official SDK's (0.1.68), against the same server, alternately. Prints one JSON object.

Usage: python_sdk.py BASE_URL SANDBOX_ID VOLUME_NAME FILE_PATH CALLS GATHER IMPORT_RUNS
(the key comes from PORTER_SANDBOX_API_KEY, which both SDKs read)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def import_cost(runs_wanted: int) -> tuple[float, float]:
    """Median import time (s) and RSS after import (MiB) over fresh interpreters."""
    code = (
        "import time; t = time.perf_counter(); import porter_sandbox; "
        "d = time.perf_counter() - t\n"
        "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]\n"
        "print(d, int(rss) / 1024)"
    )
    runs = []
    for _ in range(runs_wanted):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd="/")  # fmt: skip
        seconds, rss = out.stdout.split()
        runs.append((float(seconds), float(rss)))
    runs.sort()
    return runs[len(runs) // 2]


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def main() -> None:
    base_url, sandbox_id, volume_name, file_path = sys.argv[1:5]
    calls, gather, import_runs = (int(a) for a in sys.argv[5:8])
    import_seconds, import_rss = import_cost(import_runs)

    from porter_sandbox import AsyncPorter, Porter, Sandbox

    results: dict[str, float] = {"import_ms": import_seconds * 1000, "import_rss_mib": import_rss}

    with Porter(base_url=base_url) as porter:
        sandbox = Sandbox(id=sandbox_id, resource=porter.sandboxes.raw)
        for _ in range(50):
            sandbox.refresh()
        start = time.perf_counter()
        for _ in range(calls):
            sandbox.refresh()
        results["sync_refresh_per_s"] = rate(calls, time.perf_counter() - start)

        # The median of three reads: one read of a small file lasts a few tens of milliseconds.
        volume = porter.volumes.get(volume_name)
        speeds = []
        for _ in range(3):
            start = time.perf_counter()
            total = 0
            for chunk in volume.stream(file_path):  # type: ignore[union-attr]
                total += len(chunk)
            speeds.append(rate(total, time.perf_counter() - start) / 1e6)
        results["stream_mb_per_s"] = sorted(speeds)[1]
        results["stream_bytes"] = total

    async def run_async() -> None:
        from porter_sandbox import AsyncSandbox

        async with AsyncPorter(base_url=base_url) as client:
            handle = AsyncSandbox(id=sandbox_id, resource=client.sandboxes.raw)
            for _ in range(50):
                await handle.refresh()
            start = time.perf_counter()
            for _ in range(calls):
                await handle.refresh()
            results["async_sequential_per_s"] = rate(calls, time.perf_counter() - start)
            for _ in range(3):
                start = time.perf_counter()
                await asyncio.gather(*(handle.refresh() for _ in range(gather)))
                best = rate(gather, time.perf_counter() - start)
                results["async_gather_per_s"] = max(
                    results.get("async_gather_per_s", 0.0), best
                )

    asyncio.run(run_async())
    results["rss_after_mib"] = rss_mib()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
