"""Sandboxes that cannot leak: scoped handles, waiting, get-or-create and leases, sync and
async, against the real local server."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import porter_sandbox as ps
from conftest import unique

IDLE = ["sleep", "300"]


TERMINAL = (
    ps.StatusResponsePhase.SUCCEEDED,
    ps.StatusResponsePhase.FAILED,
    ps.StatusResponsePhase.TERMINATED,
)


def phase_of(porter: ps.Porter, id: str) -> ps.StatusResponsePhase:
    return porter.sandboxes.raw.get_sandbox(id).phase


def test_with_terminates_on_exit_and_on_an_exception(porter: ps.Porter) -> None:
    with porter.sandboxes.create("host", command=IDLE) as sandbox:
        assert sandbox.wait_until_running(timeout=60).phase is ps.StatusResponsePhase.RUNNING
        assert sandbox.phase is ps.StatusResponsePhase.RUNNING
    assert phase_of(porter, sandbox.id) is ps.StatusResponsePhase.TERMINATED

    with pytest.raises(RuntimeError, match="the caller failed"):
        with porter.sandboxes.create("host", command=IDLE) as failing:
            raise RuntimeError("the caller failed")
    assert phase_of(porter, failing.id) is ps.StatusResponsePhase.TERMINATED

    with pytest.raises(KeyboardInterrupt):
        with porter.sandboxes.create("host", command=IDLE) as interrupted:
            raise KeyboardInterrupt
    assert phase_of(porter, interrupted.id) is ps.StatusResponsePhase.TERMINATED


def test_wait_poll_and_the_error_of_a_sandbox_that_never_runs(porter: ps.Porter) -> None:
    with porter.sandboxes.create("host", command=["sh", "-c", "sleep 0.3; exit 4"]) as sandbox:
        assert sandbox.wait(timeout=60) == 4
        assert sandbox.poll() == 4
    with porter.sandboxes.create("host", command=IDLE) as idle:
        assert idle.poll() is None
        with pytest.raises(ps.SandboxTimeoutError):
            idle.wait(timeout=0.2)
    with porter.sandboxes.create("oci-layout:/no/such/layout") as broken:
        with pytest.raises(ps.SandboxError) as raised:
            broken.wait_until_running(timeout=60)
    message = str(raised.value)
    assert "ended failed" in message and "launch_failed" in message, message
    assert "launch failed:" in message, message
    assert isinstance(raised.value.body, dict) and raised.value.body["phase"] == "failed"


def test_get_or_create_from_many_threads_gives_one_sandbox(porter: ps.Porter) -> None:
    name = unique("goc")
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(
            pool.map(
                lambda _: porter.sandboxes.get_or_create(name, "host", command=IDLE).id, range(4)
            )
        )
    assert len(ids) == 1
    found = porter.sandboxes.get_or_create(name, "host", command=IDLE)
    assert found.id in ids and found.phase is not None
    found.terminate()


def test_leases_live_with_the_client_and_expire_after_it_closes(base_url: str) -> None:
    lease = 3
    client = ps.Porter(base_url=base_url)
    sandbox = client.sandboxes.create("host", command=IDLE, lease_seconds=lease)
    with ps.Porter(base_url=base_url) as observer:
        until = time.monotonic() + 3 * lease
        while time.monotonic() < until:
            assert phase_of(observer, sandbox.id) not in TERMINAL, "ended while renewed"
            time.sleep(0.25)
        client.close()  # stops the renewals
        closed = time.monotonic()
        while phase_of(observer, sandbox.id) not in TERMINAL:
            # Generous: the lease runs out `lease` s after the last renewal, then the reaper acts.
            assert time.monotonic() - closed < lease + 30, "the lease was not enforced"
            time.sleep(0.1)
        status = observer.sandboxes.raw.get_sandbox(sandbox.id)
        assert status.termination_reason is ps.StatusResponseTerminationReason.LEASE_EXPIRED


def test_async_scoped_wait_and_get_or_create(base_url: str) -> None:
    async def main() -> None:
        async with ps.AsyncPorter(base_url=base_url) as porter:
            async with await porter.sandboxes.create("host", command=IDLE) as sandbox:
                status = await sandbox.wait_until_running(timeout=60)
                assert status.phase is ps.StatusResponsePhase.RUNNING
                assert await sandbox.poll() is None
            assert (await sandbox.refresh()).phase is ps.StatusResponsePhase.TERMINATED

            with pytest.raises(ValueError, match="inside"):
                async with await porter.sandboxes.create("host", command=IDLE) as failing:
                    raise ValueError("inside")
            assert (await failing.refresh()).phase is ps.StatusResponsePhase.TERMINATED

            name = unique("agoc")
            found = await asyncio.gather(
                *(porter.sandboxes.get_or_create(name, "host", command=IDLE) for _ in range(3))
            )
            assert len({s.id for s in found}) == 1
            await found[0].terminate()
            assert await found[0].wait(timeout=60) == 137

    asyncio.run(main())
