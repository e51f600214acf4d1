"""Processes (an extension of the local porter-sandbox server): :class:`Process`,
:class:`AsyncProcess` and :class:`OutputChunk`.

A process gets its id at once and outlives the call that started it: its output is kept by the
server and can be read from any byte offset — replayed, then followed live until it ends — by
this client or any other (``sandbox.process(id)``), also after a broken connection. Against a
server without the extension every process call raises :class:`UnsupportedError` at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from . import _convert, _native
from ._native import NativeProcess
from ._models import ExecRequest, ProcessStatus
from .enums import OutputStreamName

__all__ = ["AsyncProcess", "OutputChunk", "Process"]

_STREAMS: dict[str, OutputStreamName] = {s.value: s for s in OutputStreamName}


class OutputChunk:
    """A piece of a process's output: the bytes exactly as the process wrote them, the stream
    they came from (a terminal has only ``stdout``), and the ``offset`` of their first byte in
    the process's combined output (read again from :attr:`end` to go on after this chunk)."""

    __slots__ = ("data", "offset", "stream")

    stream: OutputStreamName
    data: bytes
    offset: int

    def __init__(self, stream: OutputStreamName | str, data: bytes, offset: int) -> None:
        self.stream = _STREAMS.get(stream, stream)  # type: ignore[arg-type]
        self.data = data
        self.offset = offset

    @property
    def end(self) -> int:
        """The offset just past this chunk."""
        return self.offset + len(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutputChunk):
            return NotImplemented
        return (self.stream, self.data, self.offset) == (other.stream, other.data, other.offset)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        stream = getattr(self.stream, "value", self.stream)
        return f"OutputChunk(stream={stream!r}, data={self.data!r}, offset={self.offset!r})"


def _chunk(item: tuple[str, bytes, int]) -> OutputChunk:
    return OutputChunk(*item)


def _status(wire: Any) -> ProcessStatus:
    return ProcessStatus._from_wire(wire)


def _stdin(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"stdin data must be bytes or str, not {type(data).__name__}")


def _offset(offset: int) -> int:
    value = _convert.non_negative("offset", offset)
    return 0 if value is None else value


def _start_args(
    command: Sequence[str],
    timeout: float | None,
    workdir: str | None,
    env: Mapping[str, str] | None,
    stdin: bool,
    pty: bool | tuple[int, int],
) -> tuple[list[str], float | None, str | None, Mapping[str, str] | None, bool,
           tuple[int, int] | None]:  # fmt: skip
    """The native arguments of ``Sandbox.start``, after the checks ``exec`` makes too."""
    request = ExecRequest(command=command)  # type: ignore[arg-type]
    size: tuple[int, int] | None
    if pty is True:
        size = _native.DEFAULT_TERMINAL_SIZE
    elif pty is False or pty is None:
        size = None
    elif (
        isinstance(pty, tuple)
        and len(pty) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in pty)
    ):
        size = (pty[0], pty[1])
    else:
        raise TypeError(f"pty must be a bool or a (cols, rows) tuple, not {pty!r}")
    return request.command, timeout, workdir, env, bool(stdin), size


class _ProcessBase:
    _handle: NativeProcess

    def __init__(self, handle: NativeProcess) -> None:
        self._handle = handle

    @property
    def id(self) -> str:
        """The process id (``exec_id``): give it to ``sandbox.process(id)`` to reach the
        process again, from any client."""
        return self._handle.id

    @property
    def sandbox_id(self) -> str:
        """The id of the sandbox it runs in."""
        return self._handle.sandbox_id

    @property
    def last_status(self) -> ProcessStatus | None:
        """The last status read (by :meth:`status`, :meth:`wait`, :meth:`poll` or the end of
        an output stream), without a request."""
        wire = self._handle.last_status()
        return None if wire is None else _status(wire)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, sandbox_id={self.sandbox_id!r})"


class Process(_ProcessBase):
    """A process in a sandbox, started with ``Sandbox.start`` or found with
    ``Sandbox.process``."""

    def output(self, offset: int = 0) -> Iterator[OutputChunk]:
        """Its output from byte ``offset`` (0: from the start): what was written so far, then
        live output until the process ends. A broken connection is resumed from the next byte;
        output older than the server's retention limit is skipped (the first chunk's
        ``offset`` says where it starts). Waiting releases the GIL; Ctrl-C interrupts it."""
        return self._output(_offset(offset))

    def _output(self, offset: int) -> Iterator[OutputChunk]:
        chunks = self._handle.output(offset)
        while (item := chunks.next()) is not None:
            yield _chunk(item)

    def write_stdin(self, data: bytes | bytearray | memoryview | str) -> None:
        """Writes ``data`` (``str`` is encoded as UTF-8) to its standard input; the process
        must have been started with ``stdin=True``. Never retried."""
        self._handle.write_stdin(_stdin(data))

    def close_stdin(self) -> None:
        """Closes its standard input: the process reads end-of-file."""
        self._handle.close_stdin()

    def wait(self, timeout: float | None = None) -> ProcessStatus:
        """Waits until it has ended and returns its final status. After ``timeout`` seconds
        (``None``: no limit) raises :class:`SandboxTimeoutError`; the process keeps running."""
        return _status(self._handle.wait(timeout))

    def poll(self) -> int | None:
        """Its exit code once it has ended (128 + the signal when killed, 124 at its
        deadline), else ``None``."""
        code: int | None = self._handle.poll()
        return code

    def status(self) -> ProcessStatus:
        """Reads its status now."""
        return _status(self._handle.status())

    def kill(self, signal: str | int = "SIGKILL") -> None:
        """Sends ``signal`` (``"SIGTERM"``, ``"TERM"``, ``15``…) to its whole process tree."""
        self._handle.kill(str(signal))

    def resize(self, cols: int, rows: int) -> None:
        """Resizes its terminal (a process started with ``pty``)."""
        self._handle.resize(cols, rows)


class AsyncProcess(_ProcessBase):
    """A process in a sandbox (async), started with ``AsyncSandbox.start`` or found with
    ``AsyncSandbox.process``."""

    def output(self, offset: int = 0) -> AsyncIterator[OutputChunk]:
        """Its output from byte ``offset`` (0: from the start), for ``async for``: what was
        written so far, then live output until the process ends. A broken connection is
        resumed from the next byte; output older than the server's retention limit is skipped
        (the first chunk's ``offset`` says where it starts)."""
        return self._output(_offset(offset))

    async def _output(self, offset: int) -> AsyncIterator[OutputChunk]:
        chunks = self._handle.output(offset)
        while (item := await chunks.next_async()) is not None:
            yield _chunk(item)

    async def write_stdin(self, data: bytes | bytearray | memoryview | str) -> None:
        """Writes ``data`` (``str`` is encoded as UTF-8) to its standard input; the process
        must have been started with ``stdin=True``. Never retried."""
        await self._handle.write_stdin_async(_stdin(data))

    async def close_stdin(self) -> None:
        """Closes its standard input: the process reads end-of-file."""
        await self._handle.close_stdin_async()

    async def wait(self, timeout: float | None = None) -> ProcessStatus:
        """Waits until it has ended and returns its final status. After ``timeout`` seconds
        (``None``: no limit) raises :class:`SandboxTimeoutError`; the process keeps running."""
        return _status(await self._handle.wait_async(timeout))

    async def poll(self) -> int | None:
        """Its exit code once it has ended (128 + the signal when killed, 124 at its
        deadline), else ``None``."""
        code: int | None = await self._handle.poll_async()
        return code

    async def status(self) -> ProcessStatus:
        """Reads its status now."""
        return _status(await self._handle.status_async())

    async def kill(self, signal: str | int = "SIGKILL") -> None:
        """Sends ``signal`` (``"SIGTERM"``, ``"TERM"``, ``15``…) to its whole process tree."""
        await self._handle.kill_async(str(signal))

    async def resize(self, cols: int, rows: int) -> None:
        """Resizes its terminal (a process started with ``pty``)."""
        await self._handle.resize_async(cols, rows)
