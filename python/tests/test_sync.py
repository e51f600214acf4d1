"""Every sync method against the real local server."""

from __future__ import annotations

import io
import time
from datetime import datetime

import pytest

import porter_sandbox as ps
from conftest import unique, wait_running


def test_health_and_readiness(porter: ps.Porter) -> None:
    assert porter.healthz.health_check() == ps.HealthResponse(status="ok")
    assert porter.healthz.raw.health_check().status == "ok"
    ready = porter.readyz.readiness_check()
    assert isinstance(ready, ps.ReadinessResponse) and ready.active_sandboxes >= 0
    assert porter.raw.readyz.readiness_check().status == ready.status


def test_sandbox_lifecycle(porter: ps.Porter) -> None:
    name = unique("life")
    tag = unique("t")
    sandbox = porter.sandboxes.create(
        "host", name=name, command=["sleep", "300"], tags={"run": tag}, env={"A": "1"},
        ttl_seconds=600,
    )  # fmt: skip
    assert isinstance(sandbox, ps.Sandbox)
    assert sandbox.phase is None and sandbox.tags is None
    assert wait_running(sandbox) is ps.StatusResponsePhase.RUNNING
    assert sandbox.tags == {"run": tag}
    status = sandbox.refresh()
    assert isinstance(status, ps.StatusResponse) and status.name == name and status.image == "host"

    result = sandbox.exec(["sh", "-c", "echo $A; echo oops >&2; exit 3"])
    assert (result.stdout, result.stderr, result.exit_code) == ("1\n", "oops\n", 3)
    assert result.exec_id

    logs = sandbox.logs(limit=50)
    assert all(isinstance(line, ps.LogLine) for line in logs)
    assert any(line.line == "1" for line in logs)
    assert any(line.level is ps.LogLineLevel.ERROR for line in logs)
    assert len(sandbox.logs(limit=1)) == 1
    assert sandbox.logs(since="2000-01-01T00:00:00Z")

    got = porter.sandboxes.get(name)
    assert got.id == sandbox.id and got.phase is ps.StatusResponsePhase.RUNNING
    listed = porter.sandboxes.list(tags={"run": tag})
    assert [s.id for s in listed] == [sandbox.id] and listed[0].tags == {"run": tag}
    assert porter.sandboxes.list(tags={"run": tag}, phase=[ps.SandboxesPhase.SUCCEEDED]) == []
    assert [s.id for s in porter.sandboxes.list(search=name, image="host", page=1)] == [sandbox.id]

    sandbox.terminate()
    final = sandbox.refresh()
    assert final.phase is ps.StatusResponsePhase.TERMINATED
    assert final.termination_reason is ps.StatusResponseTerminationReason.SDK
    sandbox.terminate()  # idempotent


def test_raw_sandbox_endpoints(porter: ps.Porter) -> None:
    raw = porter.raw.sandboxes
    name = unique("raw")
    created = raw.create_sandbox(ps.SandboxSpec(image="host", name=name, command=["sleep", "300"]))
    assert isinstance(created, ps.CreateResponse) and created.name == name
    assert raw.lookup_sandbox(name) == ps.LookupResult(id=created.id)
    sandbox = ps.Sandbox(id=created.id, resource=raw)
    assert wait_running(sandbox) is ps.StatusResponsePhase.RUNNING

    page = raw.list_sandboxes(search=name, include_filter_values=True)
    assert isinstance(page, ps.ListResponse) and [s.id for s in page.sandboxes] == [created.id]
    assert isinstance(page.pagination, ps.Pagination) and page.pagination.current_page == 1
    assert page.filter_values is not None and "host" in page.filter_values.images
    running = raw.list_sandboxes(search=name, phase=[ps.SandboxesPhase.RUNNING], tag=[])
    assert [s.id for s in running.sandboxes] == [created.id]

    counts = raw.sandbox_counts(search=name)
    assert isinstance(counts, ps.CountResponse) and sum(p.count for p in counts.points) == 1

    out = raw.exec_sandbox(created.id, ps.ExecRequest(command=["echo", "raw"]), timeout=30)
    assert out.stdout == "raw\n"
    as_dict = raw.exec_sandbox(created.id, {"command": ["echo", "dict"]})
    assert as_dict.stdout == "dict\n"
    with pytest.raises(ps.SandboxTimeoutError, match="timed out"):
        raw.exec_sandbox(created.id, ps.ExecRequest(command=["sleep", "5"]), timeout=0.3)

    logs = raw.get_sandbox_logs(created.id, limit=10)
    assert isinstance(logs, ps.LogsResponse) and logs.sandbox_id == created.id

    summary = raw.get_sandbox_metrics_summary(created.id, since="1h")
    assert isinstance(summary, ps.MetricSummaryResponse) and summary.window_seconds == 3600
    assert summary.cpu_limit_cores > 0 and summary.mem_limit_bytes > 0
    metrics = raw.get_sandbox_metrics(created.id, ps.SandboxMetric.CPU_USAGE,
                                      "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z")  # fmt: skip
    assert len(metrics.results) == 1 and metrics.results[0].series[0].time_series == []
    with pytest.raises(ps.SandboxError) as bad_window:
        raw.get_sandbox_metrics(created.id, ps.SandboxMetric.CPU_USAGE, "2024-01-02T00:00:00Z",
                                "2024-01-01T00:00:00Z")  # fmt: skip
    assert bad_window.value.status_code == 400

    raw.delete_sandbox(created.id, source=ps.SandboxesSource.CLI)
    status = raw.get_sandbox(created.id)
    assert status.termination_reason is ps.StatusResponseTerminationReason.CLI


def test_errors(porter: ps.Porter, running: ps.Sandbox) -> None:
    with pytest.raises(ps.NotFoundError) as missing:
        porter.sandboxes.get(unique("missing"))
    assert missing.value.status_code == 404
    assert isinstance(missing.value.body, dict) and "error" in missing.value.body
    assert missing.value.message == missing.value.body["error"]
    with pytest.raises(ps.NotFoundError):
        porter.raw.sandboxes.get_sandbox("sb-doesnotexist")
    with pytest.raises(ps.NotFoundError):
        ps.Sandbox(id="sb-doesnotexist", resource=porter.sandboxes.raw).refresh()

    name = unique("dup")
    first = porter.sandboxes.create("host", name=name, command=["sleep", "60"])
    with pytest.raises(ps.SandboxError) as conflict:
        porter.sandboxes.create("host", name=name)
    assert type(conflict.value) is ps.SandboxError
    assert conflict.value.status_code == 409
    assert isinstance(conflict.value.body, dict) and conflict.value.body["error"]
    first.terminate()

    with pytest.raises(ps.SandboxError) as bad:
        porter.sandboxes.create("host", name="Not A DNS Label!")
    assert bad.value.status_code == 400

    with pytest.raises(ValueError):
        porter.raw.sandboxes.create_sandbox({"name": "no-image"})
    with pytest.raises(TypeError):
        porter.raw.sandboxes.create_sandbox("host")  # type: ignore[arg-type]


def test_network_error_and_closed_client() -> None:
    with ps.Porter(base_url="http://127.0.0.1:9", timeout=5) as porter:
        with pytest.raises(ps.SandboxError, match="Network error") as failed:
            porter.healthz.health_check()
        assert failed.value.status_code is None
    with pytest.raises(ps.SandboxError):
        porter.healthz.health_check()


def test_snapshots(porter: ps.Porter, running: ps.Sandbox) -> None:
    listed = porter.snapshots.list()
    assert isinstance(listed, ps.SnapshotListResponse)
    assert porter.snapshots.list(sandbox_id=running.id).snapshots == []
    with pytest.raises(ps.SandboxError) as full:
        porter.snapshots.create(running.id, ps.SnapshotSpec(mode=ps.SnapshotMode.FULL))
    assert full.value.status_code == 400 and "full" in full.value.message
    snapshot = porter.raw.snapshots.create_snapshot(running.id, {"mode": "filesystem"})
    assert snapshot.sandbox_id == running.id and snapshot.mode is ps.SnapshotMode.FILESYSTEM
    for _ in range(600):
        if snapshot.status is not ps.SnapshotStatus.PENDING:
            break
        time.sleep(0.05)
        snapshot = porter.snapshots.get(snapshot.id)
    assert snapshot.status is ps.SnapshotStatus.READY
    assert [s.id for s in porter.snapshots.list(sandbox_id=running.id).snapshots] == [snapshot.id]
    porter.snapshots.delete(snapshot.id)
    with pytest.raises(ps.NotFoundError):
        porter.snapshots.get("snap-missing")
    with pytest.raises(ps.NotFoundError):
        porter.snapshots.delete("snap-missing")
    assert porter.snapshots.raw is porter.raw.snapshots


def test_volumes(porter: ps.Porter) -> None:
    name = unique("vol")
    volume = porter.volumes.create(name=name)
    assert isinstance(volume, ps.Volume)
    assert volume.name == name and volume.type is ps.VolumeType.DISK
    assert volume.phase is ps.VolumePhase.READY and volume.attached_to == []
    assert isinstance(volume.created_at, datetime) and volume.created_at.tzinfo is not None
    assert volume.path
    record = volume.refresh()
    assert isinstance(record, ps.VolumeRecord) and record.id == volume.id
    assert volume.id in [v.id for v in porter.volumes.list()]
    got = porter.volumes.get(name)
    assert isinstance(got, ps.Volume) and got.id == volume.id

    raw = porter.volumes.raw
    assert raw.lookup_volume(name) == ps.LookupResult(id=volume.id)
    assert raw.get_volume(volume.id) == record
    assert volume.id in [v.id for v in raw.list_volumes().volumes]
    unnamed = raw.create_volume({})
    assert unnamed.id and unnamed.type is ps.VolumeType.DISK
    raw.delete_volume(unnamed.id)
    with pytest.raises(ps.NotFoundError):
        raw.get_volume(unnamed.id)

    with pytest.raises(ps.SandboxError) as object_volume:
        porter.volumes.create(type=ps.VolumeSpecType.OBJECT,
                              object=ps.VolumeObjectSpec(bucket="b"))  # fmt: skip
    assert object_volume.value.status_code == 400

    porter.volumes.delete(name)
    with pytest.raises(ps.NotFoundError):
        porter.volumes.get(name)
    with pytest.raises(ps.NotFoundError):
        volume.delete()


def test_object_volume_handle(porter: ps.Porter) -> None:
    record = ps.VolumeRecord(
        id="vol-x", name="bucket", type=ps.VolumeType.OBJECT, path="", phase=ps.VolumePhase.READY,
        attached_to=[], created_at="", object=ps.VolumeObjectSpec(bucket="b", prefix="p/"),
    )  # fmt: skip
    handle = ps.ObjectVolume(record=record, resource=porter.volumes.raw)
    assert handle.object.bucket == "b" and handle.created_at is None
    assert not hasattr(handle, "listdir") and not hasattr(handle, "path")
    bare = ps.ObjectVolume(record=record.model_copy(update={"object": None}),
                           resource=porter.volumes.raw)  # fmt: skip
    with pytest.raises(ps.SandboxError, match="missing its object spec"):
        bare.object
    with pytest.raises(ps.NotFoundError):
        handle.refresh()


def test_volume_files(porter: ps.Porter) -> None:
    volume = porter.volumes.create(name=unique("files"))
    assert isinstance(volume, ps.Volume)
    volume.write_text("notes/hello.txt", "hi there")
    volume.write_text("/notes/deep/é.txt", "ünïcode", encoding="utf-8")
    volume.write_file("blob.bin", bytes(range(256)) * 100)
    volume.write_file("/from-file.bin", io.BytesIO(b"streamed body"))

    assert volume.read_text("notes/hello.txt") == "hi there"
    assert volume.read_text("notes/deep/é.txt") == "ünïcode"
    assert volume.read_file("blob.bin", offset=256, length=4) == bytes([0, 1, 2, 3])
    assert volume.read_file("blob.bin", offset=25598) == bytes([254, 255])
    assert volume.read_file("blob.bin", length=2) == bytes([0, 1])
    assert volume.read_file("blob.bin", length=0) == b""
    assert volume.read_file("from-file.bin") == b"streamed body"
    with pytest.raises(ValueError):
        volume.read_file("blob.bin", offset=-1)

    chunks = list(volume.stream("blob.bin", chunk_size=10000))
    assert [len(c) for c in chunks] == [10000, 10000, 5600]
    assert b"".join(chunks) == bytes(range(256)) * 100
    assert list(volume.stream("notes/hello.txt")) == [b"hi there"]

    top = volume.listdir("/")
    assert [(f.path, f.is_directory) for f in top] == [
        ("/notes", True), ("/blob.bin", False), ("/from-file.bin", False),
    ]  # fmt: skip
    assert all(isinstance(f, ps.VolumeFile) for f in top)
    blob = top[1]
    assert blob.size_bytes == 25600 and blob.type is ps.VolumeFileEntryType.FILE
    assert isinstance(blob.modified_at, datetime) and blob.truncated is False
    assert repr(blob) == (
        "VolumeFile(path='/blob.bin', type=<VolumeFileEntryType.FILE: 'file'>, size_bytes=25600)"
    )
    assert [f.path for f in volume.listdir("notes/")] == ["/notes/deep", "/notes/hello.txt"]
    walked = volume.iterdir()
    assert next(walked).path == "/notes"
    assert [f.path for f in walked] == [
        "/notes/deep", "/notes/deep/é.txt", "/notes/hello.txt", "/blob.bin", "/from-file.bin",
    ]  # fmt: skip
    assert [f.path for f in volume.iterdir("/notes/deep")] == ["/notes/deep/é.txt"]
    assert [f.path for f in volume.search("HELLO")] == ["/notes/hello.txt"]
    assert [f.path for f in volume.search(".bin", path="/")] == ["/blob.bin", "/from-file.bin"]
    assert volume.search("nothing-matches") == []

    volume.move_file("notes/hello.txt", "/notes/moved.txt")
    assert volume.read_text("/notes/moved.txt") == "hi there"
    with pytest.raises(ps.SandboxError) as conflict:
        volume.move_file("blob.bin", "notes/moved.txt")
    assert conflict.value.status_code == 409
    with pytest.raises(ps.NotFoundError):
        volume.read_file("notes/hello.txt")
    with pytest.raises(ps.NotFoundError):
        list(volume.stream("missing.bin"))

    raw = porter.volumes.raw
    listing = raw.list_volume_files(volume.id, path="/notes")
    assert isinstance(listing, ps.VolumeFileListResponse) and listing.path == "/notes"
    assert {e.name for e in listing.entries} == {"deep", "moved.txt"}
    found = raw.list_volume_files(volume.id, search="moved")
    assert found.entries
    content = raw.read_volume_file(volume.id, "/blob.bin", range="bytes=0-9")
    assert isinstance(content, ps.BinaryContent) and content.data == bytes(range(10))
    assert content.content_range == ps.ContentRange(start=0, end=9, size=25600)
    assert isinstance(content.last_modified, datetime)
    whole = raw.read_volume_file(volume.id, "/blob.bin", timeout=10)
    assert whole.content_range is None and len(whole.data) == 25600
    raw.write_volume_file(volume.id, b"raw write", "/raw.txt")
    raw.write_volume_file(volume.id, io.BytesIO(b"raw file"), "/raw2.txt", timeout=30)
    raw.move_volume_file(volume.id, ps.VolumeFileMoveRequest(from_="/raw.txt", to="/raw3.txt"))
    raw.move_volume_file(volume.id, {"from": "/raw2.txt", "to": "/raw4.txt"})
    assert volume.read_text("raw3.txt") == "raw write"
    assert volume.read_text("raw4.txt") == "raw file"
    with pytest.raises(ps.SandboxError) as bad_range:
        raw.read_volume_file(volume.id, "/blob.bin", range="bytes=999999-")
    assert bad_range.value.status_code == 416
    volume.delete()


def test_volume_mounted_in_a_sandbox(porter: ps.Porter) -> None:
    volume = porter.volumes.create(name=unique("mounted"))
    volume.write_text("data.txt", "from the volume")
    sandbox = porter.sandboxes.create("host", command=["sleep", "300"],
                                      volume_mounts={"/data": volume.id})  # fmt: skip
    assert wait_running(sandbox) is ps.StatusResponsePhase.RUNNING
    assert sandbox.exec(["cat", "/data/data.txt"]).stdout == "from the volume"
    assert volume.refresh().attached_to == [sandbox.id]
    with pytest.raises(ps.SandboxError) as attached:
        volume.delete()
    assert attached.value.status_code == 409
    sandbox.terminate()
    deadline = time.monotonic() + 10
    while volume.refresh().attached_to and time.monotonic() < deadline:
        time.sleep(0.05)
    volume.delete()
