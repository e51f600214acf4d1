"""Every async method against the real local server (each test runs its own event loop)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

import porter_sandbox as ps
from conftest import unique

T = TypeVar("T")


def run(base_url: str, scenario: Callable[[ps.AsyncPorter], Awaitable[T]]) -> T:
    async def main() -> T:
        async with ps.AsyncPorter(base_url=base_url) as porter:
            return await scenario(porter)

    return asyncio.run(main())


async def wait_running(sandbox: ps.AsyncSandbox) -> ps.StatusResponsePhase | None:
    for _ in range(1200):
        status = await sandbox.refresh()
        if status.phase not in (ps.StatusResponsePhase.QUEUED, ps.StatusResponsePhase.CREATING):
            break
        await asyncio.sleep(0.05)
    return sandbox.phase


def test_health_and_readiness(base_url: str) -> None:
    async def scenario(porter: ps.AsyncPorter) -> None:
        assert (await porter.healthz.health_check()).status == "ok"
        assert (await porter.healthz.raw.health_check()).status == "ok"
        assert (await porter.readyz.readiness_check()).active_sandboxes >= 0
        assert (await porter.raw.readyz.readiness_check()).status

    run(base_url, scenario)


def test_sandboxes(base_url: str) -> None:
    async def scenario(porter: ps.AsyncPorter) -> None:
        tag = unique("async")
        sandboxes = await asyncio.gather(
            *(porter.sandboxes.create("host", name=unique("a"), command=["sleep", "300"],
                                      tags={"run": tag}) for _ in range(3))  # fmt: skip
        )
        assert all(isinstance(s, ps.AsyncSandbox) and s.phase is None for s in sandboxes)
        phases = await asyncio.gather(*(wait_running(s) for s in sandboxes))
        assert phases == [ps.StatusResponsePhase.RUNNING] * 3
        outs = await asyncio.gather(*(s.exec(["echo", s.id]) for s in sandboxes))
        assert [o.stdout.strip() for o in outs] == [s.id for s in sandboxes]
        first = sandboxes[0]
        assert any(line.line == first.id for line in await first.logs(limit=10))
        listed = await porter.sandboxes.list(tags={"run": tag})
        assert sorted(s.id for s in listed) == sorted(s.id for s in sandboxes)
        assert all(s.tags == {"run": tag} for s in listed)
        status = await first.refresh()
        got = await porter.sandboxes.get(status.name)
        assert got.id == first.id and got.phase is ps.StatusResponsePhase.RUNNING

        raw = porter.sandboxes.raw
        assert (await raw.lookup_sandbox(status.name)).id == first.id
        assert (await raw.get_sandbox(first.id)).id == first.id
        page = await raw.list_sandboxes(tag=[f"run={tag}"], phase=[ps.SandboxesPhase.RUNNING])
        assert len(page.sandboxes) == 3
        counts = await raw.sandbox_counts(tag=[f"run={tag}"])
        assert sum(p.count for p in counts.points) == 3
        out = await raw.exec_sandbox(first.id, {"command": ["echo", "x"]}, timeout=30)
        assert out.stdout == "x\n"
        with pytest.raises(ps.SandboxTimeoutError):
            await raw.exec_sandbox(first.id, ps.ExecRequest(command=["sleep", "5"]), timeout=0.3)
        assert (await raw.get_sandbox_logs(first.id, limit=1)).logs
        summary = await raw.get_sandbox_metrics_summary(first.id, since="10m")
        assert summary.window_seconds == 600 and summary.cpu_limit_cores > 0
        series = await raw.get_sandbox_metrics(
            first.id, ps.SandboxMetric.MEMORY_USAGE, "1h", "2100-01-01T00:00:00Z"
        )
        assert series.results[0].series[0].unit == "bytes"
        with pytest.raises(ps.SandboxError) as bad_time:
            await raw.get_sandbox_metrics(first.id, ps.SandboxMetric.MEMORY_USAGE, "a", "b")
        assert bad_time.value.status_code == 400
        created = await raw.create_sandbox({"image": "host", "command": ["sleep", "60"]})
        await raw.delete_sandbox(created.id, source=ps.SandboxesSource.DASHBOARD)

        with pytest.raises(ps.NotFoundError) as missing:
            await porter.sandboxes.get(unique("missing"))
        assert missing.value.status_code == 404
        with pytest.raises(ps.SandboxError) as conflict:
            await porter.sandboxes.create("host", name=status.name)
        assert conflict.value.status_code == 409 and isinstance(conflict.value.body, dict)

        await asyncio.gather(*(s.terminate() for s in sandboxes))
        assert (await first.refresh()).phase is ps.StatusResponsePhase.TERMINATED

    run(base_url, scenario)


def test_cancelling_a_long_exec(base_url: str) -> None:
    async def scenario(porter: ps.AsyncPorter) -> float:
        sandbox = await porter.sandboxes.create("host", command=["sleep", "300"])
        assert await wait_running(sandbox) is ps.StatusResponsePhase.RUNNING
        task = asyncio.ensure_future(sandbox.exec(["sleep", "30"]))
        # Cancelled once the exec runs in the sandbox, however long it takes to start.
        deadline = time.monotonic() + 60
        while (await sandbox.exec(["pgrep", "-x", "-f", "sleep 30"])).exit_code != 0:
            assert time.monotonic() < deadline, "the exec never started"
            await asyncio.sleep(0.05)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        elapsed = time.monotonic() - started
        # The client is still usable after the cancellation.
        assert (await sandbox.exec(["echo", "after"])).stdout == "after\n"
        await sandbox.terminate()
        return elapsed

    # Prompt, not after the command's 30 s (generous, for a loaded machine).
    assert run(base_url, scenario) < 5


def test_snapshots(base_url: str) -> None:
    async def scenario(porter: ps.AsyncPorter) -> None:
        assert (await porter.snapshots.raw.list_snapshots("sb-x")).snapshots == []
        source = await porter.sandboxes.create("host", command=["sleep", "300"])
        assert await wait_running(source) is ps.StatusResponsePhase.RUNNING
        await source.exec(["sh", "-c", "echo kept > /tmp/kept"])
        snapshot = await porter.snapshots.create(source.id, ps.SnapshotSpec())
        assert snapshot.status is ps.SnapshotStatus.PENDING
        while snapshot.status is ps.SnapshotStatus.PENDING:
            await asyncio.sleep(0.05)
            snapshot = await porter.snapshots.get(snapshot.id)
        assert snapshot.status is ps.SnapshotStatus.READY and snapshot.size_bytes
        listed = await porter.snapshots.list(sandbox_id=source.id)
        assert [s.id for s in listed.snapshots] == [snapshot.id]
        copy = await porter.sandboxes.create("", snapshot_id=snapshot.id, command=["sleep", "300"])
        assert await wait_running(copy) is ps.StatusResponsePhase.RUNNING
        assert (await copy.exec(["cat", "/tmp/kept"])).stdout == "kept\n"
        with pytest.raises(ps.SandboxError) as in_use:
            await porter.snapshots.delete(snapshot.id)
        assert in_use.value.status_code == 409
        await asyncio.gather(copy.terminate(), source.terminate())
        await porter.snapshots.delete(snapshot.id)
        with pytest.raises(ps.NotFoundError):
            await porter.snapshots.get("snap-missing")
        with pytest.raises(ps.NotFoundError):
            await porter.snapshots.delete("snap-missing")
        with pytest.raises(ps.SandboxError):
            await porter.snapshots.create("sb-missing", ps.SnapshotSpec())
        with pytest.raises(ps.NotFoundError):
            await porter.raw.snapshots.get_snapshot("snap-missing")

    run(base_url, scenario)


def test_volumes_and_files(base_url: str) -> None:
    async def scenario(porter: ps.AsyncPorter) -> None:
        name = unique("avol")
        volume = await porter.volumes.create(name=name)
        assert isinstance(volume, ps.AsyncVolume) and volume.name == name
        assert (await volume.refresh()).id == volume.id
        assert volume.id in [v.id for v in await porter.volumes.list()]
        assert (await porter.volumes.get(name)).id == volume.id

        await volume.write_text("a/b.txt", "bee")
        await volume.write_file("c.bin", io.BytesIO(bytes(range(100))))
        await volume.write_file("/d.bin", b"dee")
        assert await volume.read_text("a/b.txt") == "bee"
        assert await volume.read_file("c.bin", offset=10, length=3) == bytes([10, 11, 12])
        chunks = [c async for c in volume.stream("c.bin", chunk_size=40)]
        assert [len(c) for c in chunks] == [40, 40, 20]
        assert [f.path for f in await volume.listdir()] == ["/a", "/c.bin", "/d.bin"]
        assert [f.path async for f in volume.iterdir("/")] == [
            "/a", "/a/b.txt", "/c.bin", "/d.bin",
        ]  # fmt: skip
        assert [f.path for f in await volume.search("B.TXT")] == ["/a/b.txt"]
        await volume.move_file("a/b.txt", "a/e.txt")
        with pytest.raises(ps.SandboxError) as conflict:
            await volume.move_file("c.bin", "a/e.txt")
        assert conflict.value.status_code == 409

        raw = porter.volumes.raw
        assert (await raw.lookup_volume(name)).id == volume.id
        assert (await raw.get_volume(volume.id)).name == name
        assert volume.id in [v.id for v in (await raw.list_volumes()).volumes]
        listing = await raw.list_volume_files(volume.id, "/a", None)
        assert [e.name for e in listing.entries] == ["e.txt"]
        content = await raw.read_volume_file(volume.id, "/c.bin", "bytes=0-1")
        assert content.data == b"\x00\x01" and content.content_range == ps.ContentRange(0, 1, 100)
        await raw.write_volume_file(volume.id, b"raw", "/r.txt")
        await raw.move_volume_file(volume.id, {"from": "/r.txt", "to": "/s.txt"})
        assert await volume.read_text("s.txt") == "raw"
        other = await raw.create_volume(ps.VolumeSpec())
        await raw.delete_volume(other.id)

        await porter.volumes.delete(name)
        with pytest.raises(ps.NotFoundError):
            await porter.volumes.get(name)
        with pytest.raises(ps.NotFoundError):
            await volume.delete()

    run(base_url, scenario)


def test_async_object_volume_handle(base_url: str) -> None:
    async def scenario(porter: ps.AsyncPorter) -> None:
        record = ps.VolumeRecord(
            id="vol-x", name="bucket", type=ps.VolumeType.OBJECT, path="",
            phase=ps.VolumePhase.READY, attached_to=[], created_at="2024-01-01T00:00:00Z",
            object=ps.VolumeObjectSpec(bucket="b"),
        )  # fmt: skip
        handle = ps.AsyncObjectVolume(record=record, resource=porter.volumes.raw)
        assert handle.object.bucket == "b" and handle.created_at is not None
        with pytest.raises(ps.NotFoundError):
            await handle.refresh()
        with pytest.raises(ps.NotFoundError):
            await handle.delete()

    run(base_url, scenario)


def test_async_context_and_low_level_client(base_url: str) -> None:
    async def main() -> None:
        async with ps.AsyncPorterSandboxApiClient(base_url=base_url) as client:
            assert (await client.healthz.health_check()).status == "ok"
        porter = ps.AsyncPorter(base_url=base_url)
        assert porter.sandboxes.raw is not None and porter.volumes.raw is not None
        await porter.aclose()
        with pytest.raises(ps.SandboxError):
            await porter.healthz.health_check()

    asyncio.run(main())
