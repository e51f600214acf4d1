"""The start rows of bench/run.sh, the ComputeSDK method against our server: create → running,
time to interactive (create until a first ``python3 -V`` exec returns) sequentially, staggered
and as a burst of concurrent creates, and the memory of an idle sandbox. Uses our Python package
(asyncio); prints one JSON object.

Usage: start.py BASE_URL SEQUENTIAL STAGGERED STAGGER_MS BURST
(the key comes from PORTER_SANDBOX_API_KEY).

A sandbox is ready when a status read says ``running`` (exec needs a running sandbox); it is
polled every POLL_SECONDS, or every BURST_POLL_SECONDS during the burst, so that a hundred
pollers do not take the two cores from the starts they wait for. Memory per idle sandbox is the
sandbox's cgroup (``memory.current``: the workload, its page cache and kernel memory) plus the
proportional set size (PSS) of the host-side processes that serve it — the ones whose command
line holds its id (the supervisor, slirp4netns) — the same definition as
cli/examples/server_bench.rs; the median over the burst's sandboxes, each idle (``sleep``) after
its first exec."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time

from porter_sandbox import AsyncPorter

POLL_SECONDS = 0.002
BURST_POLL_SECONDS = 0.02
COMMAND = ["sleep", "3600"]
PROBE = ["python3", "-V"]
CGROUP_ROOTS = ("/sys/fs/cgroup/porter-sandbox", "/sys/fs/cgroup/memory/porter-sandbox")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[round((len(ordered) - 1) * p)]


async def interactive(porter: AsyncPorter, poll: float) -> tuple[float, float, object]:
    """Creates a sandbox and runs the probe in it: (create → running s, create → probe s, handle)."""
    started = time.perf_counter()
    sandbox = await porter.sandboxes.create("host", command=COMMAND)
    while True:
        status = await sandbox.refresh()
        phase = status.phase.value if status.phase is not None else ""
        if phase == "running":
            break
        if phase not in ("queued", "creating"):
            raise RuntimeError(f"sandbox {sandbox.id} is {phase}, not running")
        await asyncio.sleep(poll)
    running = time.perf_counter() - started
    result = await sandbox.exec(PROBE)
    if result.exit_code != 0 or "Python" not in (result.stdout + result.stderr):
        raise RuntimeError(f"python3 -V in {sandbox.id}: exit {result.exit_code}")
    return running, time.perf_counter() - started, sandbox


def sandbox_memory_kib(sandbox_id: str) -> int:
    cgroup = 0
    for root in CGROUP_ROOTS:
        for name in ("memory.current", "memory.usage_in_bytes"):
            try:
                with open(f"{root}/{sandbox_id}/{name}") as f:
                    cgroup = int(f.read()) // 1024
            except (OSError, ValueError):
                continue
            break
        if cgroup:
            break
    helpers = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if sandbox_id.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                helpers += next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return cgroup + helpers


async def terminate(sandboxes: list[object]) -> None:
    await asyncio.gather(*(s.terminate() for s in sandboxes), return_exceptions=True)  # type: ignore[attr-defined]


async def main() -> None:
    base_url = sys.argv[1]
    sequential, staggered, stagger_ms, burst = (int(a) for a in sys.argv[2:6])
    out: dict[str, float] = {}
    async with AsyncPorter(base_url=base_url) as porter:
        # Warm-up: the first start prepares the host image.
        _, _, first = await interactive(porter, POLL_SECONDS)
        await terminate([first])

        running, ready = [], []
        for _ in range(sequential):
            to_running, to_ready, sandbox = await interactive(porter, POLL_SECONDS)
            running.append(to_running)
            ready.append(to_ready)
            await terminate([sandbox])
        out["create_running_p50_ms"] = percentile(running, 0.5) * 1000
        out["create_running_p95_ms"] = percentile(running, 0.95) * 1000
        out["tti_p50_ms"] = percentile(ready, 0.5) * 1000
        out["tti_p95_ms"] = percentile(ready, 0.95) * 1000

        async def delayed(index: int) -> tuple[float, float, object]:
            await asyncio.sleep(index * stagger_ms / 1000)
            return await interactive(porter, POLL_SECONDS)

        results = await asyncio.gather(*(delayed(i) for i in range(staggered)))
        out["staggered_tti_p50_ms"] = percentile([r[1] for r in results], 0.5) * 1000
        out["staggered_tti_p95_ms"] = percentile([r[1] for r in results], 0.95) * 1000
        await terminate([r[2] for r in results])

        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(interactive(porter, BURST_POLL_SECONDS) for _ in range(burst)),
            return_exceptions=True,
        )
        out["burst_wall_ms"] = (time.perf_counter() - started) * 1000
        answered = [o for o in outcomes if isinstance(o, tuple)]
        failures = [o for o in outcomes if not isinstance(o, tuple)]
        for failure in failures[:3]:
            print(f"burst failure: {failure!r}", file=sys.stderr)
        out["burst_failed"] = len(failures)
        if answered:
            out["burst_tti_p50_ms"] = percentile([o[1] for o in answered], 0.5) * 1000
            out["burst_tti_p95_ms"] = percentile([o[1] for o in answered], 0.95) * 1000
            await asyncio.sleep(1)  # let the first exec's memory settle
            memory = [sandbox_memory_kib(o[2].id) for o in answered]  # type: ignore[attr-defined]
            out["idle_sandbox_mib"] = statistics.median(memory) / 1024
        await terminate([o[2] for o in answered])
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
