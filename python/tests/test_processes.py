"""Processes against the real local server, sync and async: live output, replay from any
offset by another client, binary stdin, terminals, deadlines, waits that time out, signals,
listing, unknown ids, Ctrl-C during a stream, and ``UnsupportedError`` from a server without
the extension."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator

import pytest

import porter_sandbox as ps
from conftest import wait_running
from test_stub import Reply, Stub

LIVE = "echo first; sleep 1; echo oops >&2; seq 1 300; exit 3"
REPLAY = "seq 1 20000; sleep 0.3; seq 20001 40000"
DEADLINE = "echo up; sleep 1000 & sleep 1000"


def lines(first: int, last: int) -> bytes:
    return "".join(f"{n}\n" for n in range(first, last + 1)).encode()


def collect(chunks: Iterable[ps.OutputChunk]) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    for chunk in chunks:
        (err if chunk.stream is ps.OutputStreamName.STDERR else out).extend(chunk.data)
    return bytes(out), bytes(err)


async def acollect(chunks: AsyncIterator[ps.OutputChunk]) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    async for chunk in chunks:
        (err if chunk.stream is ps.OutputStreamName.STDERR else out).extend(chunk.data)
    return bytes(out), bytes(err)


@pytest.fixture(scope="module")
def sandbox(base_url: str) -> Iterator[ps.Sandbox]:
    with ps.Porter(base_url=base_url) as porter:
        box = porter.sandboxes.create("host", command=["sleep", "infinity"])
        assert wait_running(box) is ps.StatusResponsePhase.RUNNING
        yield box
        box.terminate()


def async_handle(porter: ps.AsyncPorter, sandbox: ps.Sandbox) -> ps.AsyncSandbox:
    return ps.AsyncSandbox(id=sandbox.id, resource=porter.sandboxes.raw)


# --- sync ------------------------------------------------------------------------------------


def test_output_is_live_tagged_and_ends_with_the_status(sandbox: ps.Sandbox) -> None:
    proc = sandbox.start(["sh", "-c", LIVE])
    assert isinstance(proc, ps.Process) and proc.id and proc.sandbox_id == sandbox.id
    chunks = proc.output(offset=0)
    first = next(chunks)
    # The first line arrives while the command still sleeps.
    assert proc.poll() is None
    assert first == ps.OutputChunk(ps.OutputStreamName.STDOUT, b"first\n", 0)
    assert (first.stream, first.data, first.offset, first.end) == ("stdout", b"first\n", 0, 6)
    out, err = collect(chunks)
    assert (first.data + out, err) == (b"first\n" + lines(1, 300), b"oops\n")
    status = proc.last_status
    assert status is not None
    assert (status.state, status.exit_code, status.timed_out) == (ps.ProcessState.EXITED, 3, False)
    assert isinstance(status, ps.ProcessStatus)
    waited = proc.wait()
    assert waited.exit_code == 3 and proc.poll() == 3
    assert (waited.exec_id, waited.sandbox_id, waited.command) == (
        proc.id, sandbox.id, ["sh", "-c", LIVE],
    )  # fmt: skip
    assert (waited.stdout_bytes, waited.stderr_bytes) == (6 + len(lines(1, 300)), 5)
    assert (waited.output_start, waited.output_end) == (0, waited.stdout_bytes + 5)
    assert waited.started_at and waited.ended_at and waited.signal is None
    assert (waited.pty, waited.stdin_open) == (False, False)
    assert proc.status() == waited


def test_another_client_replays_from_any_offset(sandbox: ps.Sandbox, base_url: str) -> None:
    proc = sandbox.start(["sh", "-c", REPLAY])
    seen = 0
    reader = proc.output()
    for chunk in reader:
        seen = chunk.end
        if seen >= 10_000:
            break
    reader.close()  # type: ignore[attr-defined]
    with ps.Porter(base_url=base_url) as other_client:
        other = ps.Sandbox(id=sandbox.id, resource=other_client.sandboxes.raw)
        again = other.process(proc.id)
        assert again.id == proc.id
        everything, _ = collect(again.output(0))
        assert everything == lines(1, 40000)
        tail, _ = collect(again.output(offset=seen))
        assert tail == everything[seen:]
        assert proc.id in [p.id for p in other.processes()]
        with pytest.raises(ps.NotFoundError):
            other.process("no-such-process")
    with pytest.raises(ValueError):
        proc.output(-1)


def test_binary_stdin_round_trips(sandbox: ps.Sandbox) -> None:
    data = os.urandom(2 * 1024 * 1024)
    proc = sandbox.start(["cat"], stdin=True)
    assert proc.status().stdin_open
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(collect(proc.output())[0]))
    reader.start()
    proc.write_stdin(data[:1000])
    proc.write_stdin(bytearray(data[1000:]))
    proc.close_stdin()
    reader.join(60)
    assert received and len(received[0]) == len(data)
    assert received[0] == data, "stdin came back changed"
    assert proc.wait(timeout=30).exit_code == 0


def test_terminal_is_a_tty_and_sees_its_resize(sandbox: ps.Sandbox) -> None:
    proc = sandbox.start(["sh"], stdin=True, pty=True)
    proc.write_stdin("tty; stty size\n")
    chunks = proc.output()
    text = ""
    while "24 80" not in text:
        text += next(chunks).data.decode(errors="replace")
    assert "/dev/pts/" in text, text
    proc.resize(120, 40)
    proc.write_stdin("stty size; exit 5\n")
    for chunk in chunks:
        assert chunk.stream is ps.OutputStreamName.STDOUT
        text += chunk.data.decode(errors="replace")
    assert "40 120" in text, text
    status = proc.last_status
    assert status is not None and status.pty and status.exit_code == 5


def test_deadline_wait_timeout_and_kill(sandbox: ps.Sandbox) -> None:
    proc = sandbox.start(["sh", "-c", DEADLINE], timeout=1)
    status = proc.wait(timeout=20)
    assert (status.state, status.exit_code, status.timed_out) == (
        ps.ProcessState.TIMED_OUT, 124, True,
    )  # fmt: skip
    assert collect(proc.output())[0] == b"up\n"

    sleeper = sandbox.start(["sleep", "1000"])
    assert sleeper.poll() is None
    started = time.monotonic()
    with pytest.raises(ps.SandboxTimeoutError):
        sleeper.wait(timeout=0.2)
    assert time.monotonic() - started < 5
    assert sleeper.id in [p.id for p in sandbox.processes()]
    sleeper.kill()
    killed = sleeper.wait(timeout=20)
    assert (killed.state, killed.exit_code, killed.signal) == (
        ps.ProcessState.KILLED, 137, "SIGKILL",
    )  # fmt: skip
    with pytest.raises(ps.SandboxError) as bad:
        sleeper.kill("SIGNOPE")
    assert bad.value.status_code == 400


def test_start_checks_its_arguments(sandbox: ps.Sandbox) -> None:
    with pytest.raises(ps.SandboxError):
        sandbox.start([])
    with pytest.raises(ValueError):
        sandbox.start(["true"], timeout=-1)
    with pytest.raises(TypeError):
        sandbox.start(["true"], pty=(80,))  # type: ignore[arg-type]


def test_ctrl_c_interrupts_a_waiting_output_stream(sandbox: ps.Sandbox, base_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import sys
            from porter_sandbox import Porter, Sandbox
            porter = Porter(base_url=sys.argv[1])
            sandbox = Sandbox(id=sys.argv[2], resource=porter.sandboxes.raw)
            proc = sandbox.start(["sh", "-c", "echo go; sleep 300"])
            try:
                for chunk in proc.output():
                    print(chunk.data.decode().strip(), flush=True)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                proc.kill()
                print(proc.wait(timeout=20).state.value, flush=True)
            """
        ), base_url, sandbox.id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tempfile.gettempdir(),
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
        assert out.split() == ["interrupted", "killed"], err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# --- async -----------------------------------------------------------------------------------


def test_async_processes(base_url: str, sandbox: ps.Sandbox) -> None:
    async def scenario() -> None:
        async with ps.AsyncPorter(base_url=base_url) as porter:
            box = async_handle(porter, sandbox)
            # Live output, then its status.
            proc = await box.start(["sh", "-c", LIVE])
            assert isinstance(proc, ps.AsyncProcess)
            chunks = proc.output(offset=0)
            first = await chunks.__anext__()
            assert await proc.poll() is None
            assert first == ps.OutputChunk("stdout", b"first\n", 0)
            out, err = await acollect(chunks)
            assert (out, err) == (lines(1, 300), b"oops\n")
            status = await proc.wait()
            assert (status.state, status.exit_code) == (ps.ProcessState.EXITED, 3)
            assert await proc.poll() == 3 and (await proc.status()).exit_code == 3

            # Replay from 0 and from the middle by another client.
            proc = await box.start(["sh", "-c", REPLAY])
            seen = 0
            async for chunk in proc.output():
                seen = chunk.end
                if seen >= 10_000:
                    break
            async with ps.AsyncPorter(base_url=base_url) as other_client:
                other = async_handle(other_client, sandbox)
                again = await other.process(proc.id)
                everything, _ = await acollect(again.output(0))
                assert everything == lines(1, 40000)
                assert (await acollect(again.output(offset=seen)))[0] == everything[seen:]
                assert proc.id in [p.id for p in await other.processes()]
                with pytest.raises(ps.NotFoundError):
                    await other.process("no-such-process")

            # Binary stdin, read while it is written.
            data = os.urandom(2 * 1024 * 1024)
            cat = await box.start(["cat"], stdin=True)
            reader = asyncio.ensure_future(acollect(cat.output()))
            await cat.write_stdin(data)
            await cat.close_stdin()
            assert (await asyncio.wait_for(reader, 60))[0] == data
            assert (await cat.wait(timeout=30)).exit_code == 0

            # A terminal of a given size, resized.
            term = await box.start(["sh"], stdin=True, pty=(100, 30))
            await term.write_stdin(b"tty; stty size\n")
            text = ""
            stream = term.output()
            while "30 100" not in text:
                text += (await stream.__anext__()).data.decode(errors="replace")
            assert "/dev/pts/" in text, text
            await term.resize(120, 40)
            await term.write_stdin("stty size; exit 5\n")
            text += (await acollect(stream))[0].decode(errors="replace")
            assert "40 120" in text, text
            assert (await term.wait()).exit_code == 5

            # A deadline, a wait that times out, a signal.
            late = await box.start(["sh", "-c", DEADLINE], timeout=1)
            status = await late.wait(timeout=20)
            assert (status.state, status.exit_code, status.timed_out) == ("timed_out", 124, True)
            assert (await acollect(late.output()))[0] == b"up\n"
            sleeper = await box.start(["sleep", "1000"])
            with pytest.raises(ps.SandboxTimeoutError):
                await sleeper.wait(timeout=0.2)
            await sleeper.kill("SIGTERM")
            killed = await sleeper.wait(timeout=20)
            assert (killed.state, killed.exit_code, killed.signal) == ("killed", 143, "SIGTERM")

    asyncio.run(scenario())


# --- a server without the extension ------------------------------------------------------------


@pytest.fixture
def bare() -> Iterator[Stub]:
    """A server that answers 404 to everything: it has none of the extensions."""
    server = Stub()
    server.route = lambda _: Reply(status=404, body={"error": "not found"})
    yield server
    server.server.shutdown()


def test_processes_are_unsupported_without_the_extension(bare: Stub) -> None:
    with ps.Porter(api_key="k", base_url=bare.url) as porter:
        box = ps.Sandbox(id="sb-1", resource=porter.sandboxes.raw)
        started = time.monotonic()
        with pytest.raises(ps.UnsupportedError) as raised:
            box.start(["echo", "hi"])
        assert time.monotonic() - started < 5
        assert isinstance(raised.value, ps.SandboxError) and raised.value.kind == "unsupported"
        assert "exec()" in raised.value.message
        with pytest.raises(ps.UnsupportedError):
            box.process("some-id")
        with pytest.raises(ps.UnsupportedError):
            box.processes()

    async def scenario() -> None:
        async with ps.AsyncPorter(api_key="k", base_url=bare.url) as porter:
            box = ps.AsyncSandbox(id="sb-1", resource=porter.sandboxes.raw)
            with pytest.raises(ps.UnsupportedError):
                await box.start(["echo", "hi"], pty=True)
            with pytest.raises(ps.UnsupportedError):
                await box.processes()

    asyncio.run(scenario())
    # Only the discovery call was made: nothing reached a process endpoint.
    assert bare.seen and all("/processes" not in s.path for s in bare.seen)
