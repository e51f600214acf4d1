"""Documented usage of the official Porter Sandbox Python SDK, run unchanged against our server.

Run by tests/compat/run_official_sdk.sh, which installs porter-sandbox==0.1.68 into its own
virtualenv, starts `porter-sandbox serve` and sets PORTER_SANDBOX_BASE_URL.
"""

import asyncio
import io
import os
import time
import uuid

from compat_helpers import check, wait_running
from porter_sandbox import (
    AsyncPorter,
    NotFoundError,
    Porter,
    SandboxError,
    SandboxesPhase,
    StatusResponsePhase,
)

RUN = uuid.uuid4().hex[:8]


def sync_flow():
    porter = Porter()
    check(porter.healthz.health_check().status == "ok", "health check")
    check(porter.readyz.readiness_check().active_sandboxes >= 0, "readiness check")

    name = f"compat-{RUN}"
    sandbox = porter.sandboxes.create(
        image="host",
        name=name,
        command=["sleep", "300"],
        tags={"suite": "compat", "run": RUN},
        env={"GREETING": "hello"},
    )
    check(sandbox.phase is None and sandbox.tags is None, "create returns an id-only handle")
    check(wait_running(sandbox) == StatusResponsePhase.RUNNING, "sandbox reaches running")
    check(sandbox.tags == {"suite": "compat", "run": RUN}, "tags are returned")

    result = sandbox.exec(["python3", "-c", "import os; print(os.environ['GREETING'])"])
    check(result.exit_code == 0 and result.stdout == "hello\n", "exec runs python3")
    failing = sandbox.exec(["sh", "-c", "echo bad >&2; exit 4"])
    check(failing.exit_code == 4 and failing.stderr == "bad\n", "non-zero exit is a value")

    logs = sandbox.logs(limit=20)
    check(any(line.line == "hello" for line in logs), "exec output appears in the logs")

    listed = porter.sandboxes.list(tags={"run": RUN})
    check([s.id for s in listed] == [sandbox.id], "list filters by tags")
    running = porter.sandboxes.list(phase=[SandboxesPhase.RUNNING], tags={"run": RUN})
    check([s.id for s in running] == [sandbox.id], "list filters by an enum phase")
    check(porter.sandboxes.get(name).id == sandbox.id, "get by name")

    try:
        porter.sandboxes.get(f"missing-{RUN}")
        raise AssertionError("get of a missing name must fail")
    except NotFoundError as err:
        check(err.status_code == 404, "a missing sandbox is NotFoundError")

    volume = porter.volumes.create(name=f"compat-vol-{RUN}")
    volume.write_text("notes/hello.txt", "hi there")
    volume.write_file("blob.bin", io.BytesIO(bytes(range(256)) * 40000))
    check(volume.read_text("notes/hello.txt") == "hi there", "write_text then read_text")
    check(volume.read_file("blob.bin", offset=256, length=4) == bytes([0, 1, 2, 3]), "ranged read")
    check(sum(len(c) for c in volume.stream("blob.bin", chunk_size=1 << 20)) == 256 * 40000, "stream")
    check([f.path for f in volume.listdir("/")] == ["/notes", "/blob.bin"], "listdir")
    check(
        [f.path for f in volume.iterdir("/")] == ["/notes", "/notes/hello.txt", "/blob.bin"],
        "iterdir",
    )
    check([f.path for f in volume.search("HELLO")] == ["/notes/hello.txt"], "search")
    volume.move_file("notes/hello.txt", "notes/moved.txt")
    try:
        volume.move_file("blob.bin", "notes/moved.txt")
        raise AssertionError("a move onto an existing path must fail")
    except SandboxError as err:
        check(err.status_code == 409, "move never overwrites")
    check(porter.volumes.get(f"compat-vol-{RUN}").id == volume.id, "volume get by name")

    mounted = porter.sandboxes.create(
        image="host", command=["sleep", "300"], volume_mounts={"/data": volume.id}
    )
    check(wait_running(mounted) == StatusResponsePhase.RUNNING, "sandbox with a volume runs")
    out = mounted.exec(["cat", "/data/notes/moved.txt"])
    check(out.stdout == "hi there", "the volume is mounted in the sandbox")
    try:
        porter.volumes.delete(f"compat-vol-{RUN}")
        raise AssertionError("deleting an attached volume must fail")
    except SandboxError as err:
        check(err.status_code == 409, "an attached volume cannot be deleted")
    mounted.terminate()

    sandbox.terminate()
    status = sandbox.refresh()
    check(status.phase == StatusResponsePhase.TERMINATED, "terminate")
    check(sandbox.logs(limit=5) is not None, "logs after termination")
    porter.volumes.delete(f"compat-vol-{RUN}")
    porter.close()


async def async_flow():
    async with AsyncPorter() as porter:
        sandboxes = await asyncio.gather(
            *(
                porter.sandboxes.create(image="host", command=["sleep", "300"], tags={"async": RUN})
                for _ in range(3)
            )
        )
        for _ in range(300):
            statuses = await asyncio.gather(*(s.refresh() for s in sandboxes))
            if all(s.phase.value not in ("queued", "creating") for s in statuses):
                break
            await asyncio.sleep(0.1)
        check(all(s.phase == StatusResponsePhase.RUNNING for s in sandboxes), "async creates run")
        outs = await asyncio.gather(*(s.exec(["echo", s.id]) for s in sandboxes))
        check([o.stdout.strip() for o in outs] == [s.id for s in sandboxes], "async exec")
        await asyncio.gather(*(s.terminate() for s in sandboxes))


if __name__ == "__main__":
    if not os.environ.get("PORTER_SANDBOX_BASE_URL"):
        raise SystemExit("set PORTER_SANDBOX_BASE_URL to the server to test")
    sync_flow()
    asyncio.run(async_flow())
    print("official SDK smoke: all checks passed")
