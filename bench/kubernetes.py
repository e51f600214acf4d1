"""The real-node rows of bench/kubernetes.sh: `serve --runtime kubernetes` on a kubelet +
containerd + runc node. Uses our Python package (asyncio); prints one JSON object.

Usage: kubernetes.py BASE_URL SEQUENTIAL EXECS BURST
(the key comes from PORTER_SANDBOX_API_KEY).

create → running: until a status read says ``running`` (on this runtime: the pod is ready, i.e.
its exec agent answered the readiness probe); time to interactive: until a first ``true`` exec
returns; exec round trip: EXECS sequential ``true`` in one sandbox; terminate: until the call
returns (the pod is gone); burst: BURST concurrent creates, wall time until all answered an
exec."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from porter_sandbox import AsyncPorter

IMAGE = "busybox:1.36"
COMMAND = ["sleep", "3600"]
POLL_SECONDS = 0.02


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[round((len(ordered) - 1) * p)]


async def interactive(porter: AsyncPorter) -> tuple[float, float, object]:
    """Creates a sandbox and runs `true` in it: (create → running s, create → exec s, handle)."""
    started = time.perf_counter()
    sandbox = await porter.sandboxes.create(IMAGE, command=COMMAND)
    while True:
        status = await sandbox.refresh()
        phase = status.phase.value if status.phase is not None else ""
        if phase == "running":
            break
        if phase not in ("queued", "creating"):
            raise RuntimeError(f"sandbox {sandbox.id} is {phase}, not running")
        await asyncio.sleep(POLL_SECONDS)
    running = time.perf_counter() - started
    result = await sandbox.exec(["true"])
    if result.exit_code != 0:
        raise RuntimeError(f"true in {sandbox.id}: exit {result.exit_code}")
    return running, time.perf_counter() - started, sandbox


async def main() -> None:
    base_url = sys.argv[1]
    sequential, execs, burst = (int(a) for a in sys.argv[2:5])
    out: dict[str, float] = {}
    async with AsyncPorter(base_url=base_url) as porter:
        # Warm-up: the node's first pod sets up its network and the image's snapshot.
        _, _, first = await interactive(porter)
        await first.terminate()  # type: ignore[attr-defined]

        running, ready, ended = [], [], []
        for _ in range(sequential):
            to_running, to_ready, sandbox = await interactive(porter)
            running.append(to_running)
            ready.append(to_ready)
            started = time.perf_counter()
            await sandbox.terminate()  # type: ignore[attr-defined]
            ended.append(time.perf_counter() - started)
        for name, samples in (("create_running", running), ("tti", ready), ("terminate", ended)):
            out[f"{name}_p50_ms"] = percentile(samples, 0.5) * 1000
            out[f"{name}_p95_ms"] = percentile(samples, 0.95) * 1000

        _, _, sandbox = await interactive(porter)
        rounds = []
        for _ in range(execs):
            started = time.perf_counter()
            result = await sandbox.exec(["true"])  # type: ignore[attr-defined]
            rounds.append(time.perf_counter() - started)
            if result.exit_code != 0:
                raise RuntimeError(f"true: exit {result.exit_code}")
        await sandbox.terminate()  # type: ignore[attr-defined]
        out["exec_p50_ms"] = percentile(rounds, 0.5) * 1000
        out["exec_p95_ms"] = percentile(rounds, 0.95) * 1000

        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(interactive(porter) for _ in range(burst)), return_exceptions=True
        )
        out["burst_wall_ms"] = (time.perf_counter() - started) * 1000
        answered = [o for o in outcomes if isinstance(o, tuple)]
        failures = [o for o in outcomes if not isinstance(o, tuple)]
        for failure in failures[:3]:
            print(f"burst failure: {failure!r}", file=sys.stderr)
        out["burst_failed"] = len(failures)
        await asyncio.gather(
            *(o[2].terminate() for o in answered), return_exceptions=True  # type: ignore[attr-defined]
        )
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
