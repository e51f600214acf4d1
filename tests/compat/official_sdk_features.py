"""The official Porter Sandbox Python SDK's snapshot, resource, metrics and networking calls, run unchanged
against our server (the features of the API beyond the core lifecycle).

Run by tests/compat/run_official_sdk.sh after official_sdk_smoke.py, with the same server
(which samples usage every half second) and PORTER_SANDBOX_BASE_URL set.
"""

import asyncio
import os
import time
import urllib.request

from compat_helpers import check, wait_running
from porter_sandbox import (
    AsyncPorter,
    Porter,
    SandboxEgressSpec,
    SandboxError,
    SandboxMetric,
    SandboxNetworkingSpec,
    SandboxResourcesSpec,
    SnapshotMode,
    SnapshotSpec,
    SnapshotStatus,
    StatusResponsePhase,
    StatusResponseTerminationReason,
)


def wait_snapshot(porter, snapshot_id, attempts=300):
    for _ in range(attempts):
        snapshot = porter.snapshots.get(snapshot_id)
        if snapshot.status != SnapshotStatus.PENDING:
            return snapshot
        time.sleep(0.05)
    return porter.snapshots.get(snapshot_id)


def snapshots(porter):
    source = porter.sandboxes.create(image="host", command=["sleep", "300"])
    check(wait_running(source) == StatusResponsePhase.RUNNING, "snapshot source runs")
    source.exec(["sh", "-c", "echo from-the-snapshot > $HOME/state.txt"])

    pending = porter.snapshots.create(source.id, SnapshotSpec())
    check(pending.sandbox_id == source.id, "create_snapshot names its sandbox")
    check(pending.mode == SnapshotMode.FILESYSTEM, "the default mode is filesystem")
    ready = wait_snapshot(porter, pending.id)
    check(ready.status == SnapshotStatus.READY, "the capture becomes ready")
    check(ready.size_bytes is not None and ready.size_bytes > 0, "size_bytes is reported")
    check(ready.t_ready_unix_ms >= ready.t_created_unix_ms, "capture timestamps")
    listed = porter.snapshots.list(sandbox_id=source.id)
    check([s.id for s in listed.snapshots] == [ready.id], "list by sandbox_id")
    check(source.refresh().phase == StatusResponsePhase.RUNNING, "the source keeps running")

    # The documented way to start from a snapshot: image left empty.
    copy = porter.sandboxes.create("", snapshot_id=ready.id, command=["sleep", "300"])
    check(wait_running(copy) == StatusResponsePhase.RUNNING, "a sandbox from the snapshot runs")
    out = copy.exec(["sh", "-c", "cat $HOME/state.txt"])
    check(out.stdout == "from-the-snapshot\n", "the snapshot's files are there")

    try:
        porter.snapshots.create(source.id, SnapshotSpec(mode=SnapshotMode.FULL))
        raise AssertionError("mode full was accepted")
    except SandboxError as err:
        check(err.status_code == 400 and "full" in err.message, "mode full is refused by name")
    copy.terminate()
    source.terminate()
    porter.snapshots.delete(ready.id)
    check(all(s.id != ready.id for s in porter.snapshots.list().snapshots), "delete_snapshot")


def resources_and_metrics(porter):
    sandbox = porter.sandboxes.create(
        image="host",
        command=["sh", "-c", "while :; do :; done"],
        resources=SandboxResourcesSpec(cpu="250m", memory="96Mi"),
    )
    check(wait_running(sandbox) == StatusResponsePhase.RUNNING, "a sized sandbox runs")
    killed = sandbox.exec(["python3", "-c", "b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096])"])
    check(killed.exit_code == 137, "an allocation over the memory limit is killed")
    logs = sandbox.logs(limit=50)
    check(any("OOM" in line.line for line in logs), "the OOM kill is in the logs")

    raw = porter.raw.sandboxes
    summary = None
    for _ in range(100):
        summary = raw.get_sandbox_metrics_summary(sandbox.id, since="10m")
        if summary.has_data:
            break
        time.sleep(0.2)
    check(summary.has_data, "metrics-summary has data once sampled")
    check(abs(summary.cpu_limit_cores - 0.25) < 1e-9, "the CPU limit is reported")
    check(summary.mem_limit_bytes == 96 << 20, "the memory limit is reported")
    check(summary.cpu_cores_p_90 > 0 and summary.mem_bytes_p_50 > 0, "p50/p90 attributes")
    check(summary.window_seconds == 600, "the window asked for")
    time.sleep(1)
    series = raw.get_sandbox_metrics(
        sandbox.id, SandboxMetric.CPU_USAGE, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    )
    points = series.results[0].series[0].time_series
    check(len(points) >= 1 and points[0].value >= 0, "metrics series (enum member argument)")
    reserved = raw.get_sandbox_metrics(
        sandbox.id, "memory_reserved", "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    )
    check(
        all(p.value == 96 << 20 for p in reserved.results[0].series[0].time_series),
        "memory_reserved is the limit",
    )
    try:
        porter.sandboxes.create(image="host", resources=SandboxResourcesSpec(memory="lots"))
        raise AssertionError("a bad quantity was accepted")
    except SandboxError as err:
        check(err.status_code == 400 and "resources.memory" in err.message, "bad quantity is a 400")
    sandbox.terminate()
    status = sandbox.refresh()
    check(status.termination_reason == StatusResponseTerminationReason.SDK, "terminated by the SDK")


def networking(porter):
    server = porter.sandboxes.create(
        image="host",
        command=[
            "sh",
            "-c",
            "mkdir /tmp/www && echo served-from-the-sandbox > /tmp/www/id && "
            "exec python3 -m http.server 8080 --bind 0.0.0.0 --directory /tmp/www",
        ],
        networking=[SandboxNetworkingSpec(port=8080)],
        egress=SandboxEgressSpec(allowed_destinations=[]),
    )
    check(wait_running(server) == StatusResponsePhase.RUNNING, "a sandbox exposing a port runs")
    address = server.refresh().internal_address
    check(address and address.startswith("127.0.0.1:"), "internal_address tells where the port is")
    check(server.refresh().host == "", "no public hostname locally")
    body = b""
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://{address}/id", timeout=2) as response:
                body = response.read()
                break
        except OSError:
            time.sleep(0.1)
    check(body == b"served-from-the-sandbox\n", "the forwarded port answers from the sandbox")
    offline = server.exec(["python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 80), 2)"])
    check(offline.exit_code != 0, "an empty allow-list blocks egress")
    server.terminate()

    limited = porter.sandboxes.create(
        image="host",
        command=["sleep", "300"],
        egress=SandboxEgressSpec(allowed_destinations=["*.example.com", "203.0.113.0/24"]),
    )
    check(wait_running(limited) == StatusResponsePhase.RUNNING, "an allow-listed sandbox runs")
    resolved = limited.exec(["python3", "-c", "import socket; socket.gethostbyname('denied.invalid')"])
    check(resolved.exit_code != 0, "names off the allow-list do not resolve")
    limited.terminate()
    for bad, word in (
        ([SandboxNetworkingSpec(port=80)], "80"),
        ([SandboxNetworkingSpec(port=8080), SandboxNetworkingSpec(port=8081)], "one"),
    ):
        try:
            porter.sandboxes.create(image="host", networking=bad)
            raise AssertionError(f"networking {bad} was accepted")
        except SandboxError as err:
            check(err.status_code == 400 and word in err.message, f"networking refused: {word}")


async def async_snapshot():
    async with AsyncPorter() as porter:
        sandbox = await porter.sandboxes.create(image="host", command=["sleep", "300"])
        for _ in range(300):
            await sandbox.refresh()
            if sandbox.phase.value not in ("queued", "creating"):
                break
            await asyncio.sleep(0.1)
        snapshot = await porter.snapshots.create(sandbox.id, SnapshotSpec())
        for _ in range(300):
            snapshot = await porter.snapshots.get(snapshot.id)
            if snapshot.status != SnapshotStatus.PENDING:
                break
            await asyncio.sleep(0.05)
        check(snapshot.status == SnapshotStatus.READY, "async snapshot")
        await sandbox.terminate()
        await porter.snapshots.delete(snapshot.id)


if __name__ == "__main__":
    if not os.environ.get("PORTER_SANDBOX_BASE_URL"):
        raise SystemExit("set PORTER_SANDBOX_BASE_URL to the server to test")
    with Porter() as client:
        snapshots(client)
        resources_and_metrics(client)
        networking(client)
    asyncio.run(async_snapshot())
    print("official SDK features: all checks passed")
