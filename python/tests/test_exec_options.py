"""The exec extension options: a server-enforced deadline, workdir, env, stdin —
sync and async — and the official call shape unchanged."""

from __future__ import annotations

import asyncio
import time

import porter_sandbox as ps
from conftest import wait_running

SCRIPT = 'pwd; echo "$A $B"; cat'


def test_exec_options_sync(porter: ps.Porter) -> None:
    sandbox = porter.sandboxes.create("host", command=["sleep", "300"], env={"A": "sandbox"})
    try:
        assert wait_running(sandbox) is ps.StatusResponsePhase.RUNNING
        started = time.monotonic()
        late = sandbox.exec(["sh", "-c", "echo begun; sleep 1000 & sleep 1000"], timeout=0.5)
        elapsed = time.monotonic() - started
        assert (late.stdout, late.exit_code, late.timed_out) == ("begun\n", 124, True)
        assert elapsed < 10, elapsed

        result = sandbox.exec(
            ["sh", "-c", SCRIPT], workdir="/tmp", env={"B": "exec"}, stdin="fed in\n", timeout=30
        )
        assert (result.stdout, result.exit_code) == ("/tmp\nsandbox exec\nfed in\n", 0)
        assert result.timed_out is False
        # The official positional shape, and no leftover sleeps from the deadline.
        listing = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"
        plain = sandbox.exec(["sh", "-c", listing])
        assert plain.exit_code == 0 and "sleep 1000" not in plain.stdout
        assert plain.timed_out is False
    finally:
        sandbox.terminate()


def test_exec_options_async(base_url: str) -> None:
    async def scenario() -> None:
        async with ps.AsyncPorter(base_url=base_url) as porter:
            sandbox = await porter.sandboxes.create("host", command=["sleep", "300"])
            try:
                for _ in range(1200):
                    phase = (await sandbox.refresh()).phase
                    if phase is ps.StatusResponsePhase.RUNNING:
                        break
                    await asyncio.sleep(0.05)
                late = await sandbox.exec(["sh", "-c", "echo x; sleep 60"], timeout=0.5)
                assert (late.stdout, late.exit_code, late.timed_out) == ("x\n", 124, True)
                result = await sandbox.exec(
                    ["sh", "-c", SCRIPT], workdir="/", env={"A": "a", "B": "b"}, stdin="in"
                )
                assert (result.stdout, result.timed_out) == ("/\na b\nin", False)
            finally:
                await sandbox.terminate()

    asyncio.run(scenario())
