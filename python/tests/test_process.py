"""Process-level behaviour: Ctrl-C during a blocking call, fork, bounded memory for large
files, and the official SDK's smoke script run unchanged with this package."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import porter_sandbox as ps
from conftest import ROOT, wait_running


def python(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        # Not the source tree: the child must import the installed package, as users do.
        cwd=tempfile.gettempdir(),
    )


def test_ctrl_c_interrupts_a_long_exec(porter: ps.Porter, base_url: str) -> None:
    sandbox = porter.sandboxes.create("host", command=["sleep", "300"])
    assert wait_running(sandbox) is ps.StatusResponsePhase.RUNNING
    child = python(
        """
        import sys, time
        from porter_sandbox import Porter, Sandbox
        porter = Porter(base_url=sys.argv[1])
        sandbox = Sandbox(id=sys.argv[2], resource=porter.sandboxes.raw)
        print("ready", flush=True)
        try:
            sandbox.exec(["sleep", "30"])
            print("finished")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            # The client still works after an interrupted call.
            print(sandbox.exec(["echo", "again"]).stdout.strip(), flush=True)
        """,
        base_url,
        sandbox.id,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    # Interrupted once the exec runs in the sandbox: the call is then blocked in the core.
    deadline = time.monotonic() + 60
    while sandbox.exec(["pgrep", "-x", "-f", "sleep 30"]).exit_code != 0:
        assert time.monotonic() < deadline, "the exec never started"
        time.sleep(0.05)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    line = child.stdout.readline().strip()
    elapsed = time.monotonic() - sent
    out, err = child.communicate(timeout=30)
    assert line == "interrupted", err
    # The call checks for signals every 50 ms: prompt, not after the command's 30 s (generous,
    # for a loaded machine).
    assert elapsed < 5.0, f"KeyboardInterrupt took {elapsed:.2f}s"
    print(f"KeyboardInterrupt {elapsed * 1000:.0f} ms after SIGINT")
    assert out.strip() == "again"
    sandbox.terminate()


def test_a_forked_child_keeps_working(base_url: str) -> None:
    child = python(
        """
        import asyncio, os, sys
        from porter_sandbox import AsyncPorter, Porter
        porter = Porter(base_url=sys.argv[1])
        assert porter.healthz.health_check().status == "ok"   # runtime and pool in use
        pid = os.fork()
        if pid == 0:
            try:
                assert porter.healthz.health_check().status == "ok"
                assert porter.readyz.readiness_check().active_sandboxes >= 0
                async def check():
                    async with AsyncPorter(base_url=sys.argv[1]) as client:
                        return (await client.healthz.health_check()).status
                assert asyncio.run(check()) == "ok"
                os._exit(0)
            except BaseException as error:
                print("child failed:", repr(error), flush=True)
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert porter.healthz.health_check().status == "ok"   # the parent is unaffected
        print("child exit", os.waitstatus_to_exitcode(status), flush=True)
        """,
        base_url,
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "child exit 0" in out, out + err


def test_large_upload_and_stream_use_bounded_memory(base_url: str, tmp_path: Path) -> None:
    size = 256 * 1024 * 1024
    source = tmp_path / "large.bin"
    with open(source, "wb") as f:
        for i in range(256):
            f.write(bytes([i]) * (1024 * 1024))
    child = python(
        """
        import hashlib, resource, sys
        from porter_sandbox import Porter
        porter = Porter(base_url=sys.argv[1])
        volume = porter.volumes.create()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open(sys.argv[2], "rb") as f:
            volume.write_file("large.bin", f)
        digest, total = hashlib.sha256(), 0
        for chunk in volume.stream("large.bin"):
            digest.update(chunk)
            total += len(chunk)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(total, digest.hexdigest(), (after - before) // 1024, flush=True)
        volume.delete()
        """,
        base_url,
        str(source),
    )
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    total, digest, growth_mib = out.split()
    import hashlib

    expected = hashlib.sha256()
    with open(source, "rb") as f:
        while block := f.read(1 << 20):
            expected.update(block)
    assert int(total) == size
    assert digest == expected.hexdigest()
    assert int(growth_mib) < 96, f"peak memory grew by {growth_mib} MiB for a 256 MiB file"


def test_official_sdk_smoke_script_runs_unchanged(base_url: str) -> None:
    script = ROOT / "tests" / "compat" / "official_sdk_smoke.py"
    env = {**os.environ, "PORTER_SANDBOX_BASE_URL": base_url}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600,
        cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "official SDK smoke: all checks passed" in result.stdout
