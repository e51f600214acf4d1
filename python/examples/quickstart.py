"""Quickstart: a sandbox, a command, its logs, a process, a volume with files, and the async
client.

Run against a local server::

    porter-sandbox serve --listen 127.0.0.1:8080 --data-dir /tmp/porter-data &
    PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080 python python/examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import io
import time

from porter_sandbox import (
    AsyncPorter,
    NotFoundError,
    Porter,
    Sandbox,
    SandboxError,
    ProcessState,
    StatusResponsePhase,
    UnsupportedError,
    Volume,
)


def wait_until_running(sandbox: Sandbox, timeout: float = 60.0) -> StatusResponsePhase | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sandbox.refresh()
        if status.phase not in (StatusResponsePhase.QUEUED, StatusResponsePhase.CREATING):
            break
        time.sleep(0.2)
    return sandbox.phase


def sync_demo() -> None:
    with Porter() as porter:  # PORTER_SANDBOX_BASE_URL, or base_url="http://127.0.0.1:8080"
        sandbox = porter.sandboxes.create(
            "host", name=None, command=["sleep", "300"], tags={"example": "quickstart"}
        )
        print("created", sandbox.id, "phase:", wait_until_running(sandbox))

        result = sandbox.exec(["python3", "-c", "print(sum(range(10)))"])
        print("exit", result.exit_code, "stdout", result.stdout.strip())
        for line in sandbox.logs(limit=5):
            print(f"  [{line.level.value}] {line.line}")

        try:
            proc = sandbox.start(["sh", "-c", "echo working; echo done >&2"], timeout=60)
            for chunk in proc.output(offset=0):
                print(f"  {chunk.stream.value}@{chunk.offset}: {chunk.data!r}")
            status = proc.wait(timeout=30.0)
            assert status.state is ProcessState.EXITED
            print("process", proc.id, "exit", status.exit_code, "polled", proc.poll())
        except UnsupportedError as error:  # a server without the process extension
            print("no processes:", error)

        mine = porter.sandboxes.list(tags={"example": "quickstart"})
        print("tagged sandboxes:", [s.id for s in mine])

        volume = porter.volumes.create(name=f"quickstart-{sandbox.id}")
        assert isinstance(volume, Volume)
        volume.write_text("notes/hello.txt", "hello from a volume")
        volume.write_file("data.bin", io.BytesIO(bytes(1024)))
        print("files:", [f.path for f in volume.iterdir("/")])
        print("text:", volume.read_text("notes/hello.txt"))
        total = sum(len(chunk) for chunk in volume.stream("data.bin", chunk_size=256))
        print("streamed", total, "bytes")

        try:
            porter.sandboxes.get("no-such-sandbox")
        except NotFoundError as error:
            print("not found:", error.status_code, error.message)
        except SandboxError as error:
            print("failed:", error)

        sandbox.terminate()
        volume.delete()


async def async_demo() -> None:
    async with AsyncPorter() as porter:
        sandboxes = await asyncio.gather(
            *(porter.sandboxes.create("host", command=["sleep", "300"]) for _ in range(3))
        )
        statuses = await asyncio.gather(*(s.refresh() for s in sandboxes))
        print("async phases:", [s.phase.value for s in statuses])
        await sandboxes[0].wait_until_running(timeout=60)
        proc = await sandboxes[0].start(["cat"], stdin=True)
        await proc.write_stdin(b"echoed\n")
        await proc.close_stdin()
        print("async output:", [chunk.data async for chunk in proc.output()])
        print("async exit:", (await proc.wait()).exit_code)
        await asyncio.gather(*(s.terminate() for s in sandboxes))


if __name__ == "__main__":
    sync_demo()
    asyncio.run(async_demo())
