"""The sandbox handles: :class:`Sandbox` and :class:`AsyncSandbox`."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from ._models import ExecRequest, ExecResponse, LogLine, StatusResponse
from .enums import StatusResponsePhase
from .process import AsyncProcess, Process, _start_args
from .resources import AsyncSandboxes as AsyncSandboxesResource
from .resources import Sandboxes as SandboxesResource

__all__ = ["AsyncSandbox", "Sandbox"]


def _result(wire: Any) -> ExecResponse:
    """The result of ``exec``: ``timed_out`` is always a bool (absent on the wire: ``False``)."""
    response = ExecResponse._from_wire(wire)
    response.timed_out = bool(response.timed_out)
    return response


class _SandboxState:
    id: str
    _status: StatusResponse | None

    @property
    def phase(self) -> StatusResponsePhase | None:
        """The phase of the last status read; ``None`` until one was read."""
        return None if self._status is None else self._status.phase

    @property
    def tags(self) -> dict[str, str] | None:
        """The tags of the last status read; ``None`` until one was read or when none are
        set."""
        return None if self._status is None else self._status.tags

    def __repr__(self) -> str:
        phase = self.phase
        shown = None if phase is None else getattr(phase, "value", phase)
        return f"{type(self).__name__}(id={self.id!r}, phase={shown!r})"


class Sandbox(_SandboxState):
    """A sandbox: its id, the last status read, and what can be done with it."""

    def __init__(
        self, *, id: str, resource: SandboxesResource, status: StatusResponse | None = None
    ) -> None:
        self.id = id
        self._resource = resource
        self._status = status

    def refresh(self) -> StatusResponse:
        """Reads the status (``GET /v1/sandbox/{id}``), keeps it and returns it."""
        status = self._resource.get_sandbox(self.id)
        self._status = status
        return status

    def terminate(self) -> None:
        """Terminates the sandbox; its record and logs stay readable."""
        self._resource.delete_sandbox(self.id)

    def wait_until_running(self, timeout: float | None = None) -> StatusResponse:
        """Waits until the sandbox is running and returns that status (kept). Polls the status
        every 50 ms at first, twice as long after each poll, at most once a second.

        Raises :class:`SandboxError` when the sandbox ends first (the message carries the phase,
        the termination reason and the last log lines; ``body`` is its status) and
        :class:`SandboxTimeoutError` after ``timeout`` seconds (``None``: no limit)."""
        status = StatusResponse._from_wire(
            self._resource._native.wait_until_running(self.id, timeout)
        )
        self._status = status
        return status

    def wait(self, timeout: float | None = None) -> int:
        """Waits until the sandbox has ended and returns the workload's exit code (137 for a
        sandbox terminated without one, 1 for one that failed without one). Polls as
        :meth:`wait_until_running` does; :class:`SandboxTimeoutError` after ``timeout``
        seconds."""
        code: int = self._resource._native.wait_sandbox(self.id, timeout)
        return code

    def poll(self) -> int | None:
        """One status read: the exit code once the sandbox has ended (as :meth:`wait`), else
        ``None``."""
        code: int | None = self._resource._native.poll_sandbox(self.id)
        return code

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Terminates the sandbox when the ``with`` block ends, also on an exception or
        Ctrl-C. A failure to terminate is raised only when the block itself succeeded."""
        try:
            self.terminate()
        except Exception:
            if exc is None:
                raise

    def logs(self, *, since: str | None = None, limit: int | None = None) -> builtins.list[LogLine]:
        """The sandbox's log lines: the workload's output and every exec's."""
        return self._resource.get_sandbox_logs(self.id, limit=limit, since=since).logs

    def exec(
        self,
        command: Sequence[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> ExecResponse:
        """Runs ``command`` (an argv; no shell) and waits for it. Never retried; a non-zero exit
        code is a normal result.

        The keyword options are extensions of the local server. ``timeout`` (seconds, > 0): the
        server kills the command's whole process tree at the deadline and the result has
        ``timed_out=True``, exit code 124 and the output so far (a server without the extension
        makes the call raise ``SandboxTimeoutError`` 10 s after the deadline; the command may keep
        running there). ``workdir``: an absolute directory to run in. ``env``: variables merged
        over the sandbox's. ``stdin``: text fed to standard input, which is then closed."""
        request = ExecRequest(command=command)  # type: ignore[arg-type]
        wire = self._resource._native.exec_command(
            self.id, request.command, timeout, workdir, env, stdin
        )
        return _result(wire)

    def start(
        self,
        command: Sequence[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bool = False,
        pty: bool | tuple[int, int] = False,
    ) -> Process:
        """Starts ``command`` (an argv; no shell) as a process and returns it at once, with its
        id; it runs on its own: read its output with ``output()``, wait for it with ``wait()``.
        Never retried. Processes are an extension of the local server: any other server raises
        :class:`UnsupportedError` at once.

        ``timeout`` (seconds, > 0): a deadline enforced by the server, which then kills the
        process's whole tree (state ``timed_out``, exit code 124; its output stays readable).
        ``workdir``: an absolute directory to run in. ``env``: variables merged over the
        sandbox's. ``stdin=True`` keeps standard input open for ``write_stdin()`` until
        ``close_stdin()``. ``pty=True`` runs it in an 80x24 terminal (or give ``(cols, rows)``);
        its output is then one ``stdout`` stream."""
        args = _start_args(command, timeout, workdir, env, stdin, pty)
        return Process(self._resource._native.start_process(self.id, *args))

    def process(self, exec_id: str) -> Process:
        """The process ``exec_id`` of this sandbox (started by any client), with its status
        read; :class:`NotFoundError` when there is none."""
        return Process(self._resource._native.get_process(self.id, exec_id))

    def processes(self) -> builtins.list[Process]:
        """The sandbox's processes, running and ended, newest first, each with its status
        read."""
        return [Process(p) for p in self._resource._native.list_processes(self.id)]


class AsyncSandbox(_SandboxState):
    """A sandbox (async): its id, the last status read, and what can be done with it."""

    def __init__(
        self, *, id: str, resource: AsyncSandboxesResource, status: StatusResponse | None = None
    ) -> None:
        self.id = id
        self._resource = resource
        self._status = status

    async def refresh(self) -> StatusResponse:
        """Reads the status (``GET /v1/sandbox/{id}``), keeps it and returns it."""
        status = await self._resource.get_sandbox(self.id)
        self._status = status
        return status

    async def terminate(self) -> None:
        """Terminates the sandbox; its record and logs stay readable."""
        await self._resource.delete_sandbox(self.id)

    async def wait_until_running(self, timeout: float | None = None) -> StatusResponse:
        """Waits until the sandbox is running and returns that status (kept). Polls the status
        every 50 ms at first, twice as long after each poll, at most once a second.

        Raises :class:`SandboxError` when the sandbox ends first (the message carries the phase,
        the termination reason and the last log lines; ``body`` is its status) and
        :class:`SandboxTimeoutError` after ``timeout`` seconds (``None``: no limit)."""
        status = StatusResponse._from_wire(
            await self._resource._native.wait_until_running_async(self.id, timeout)
        )
        self._status = status
        return status

    async def wait(self, timeout: float | None = None) -> int:
        """Waits until the sandbox has ended and returns the workload's exit code (137 for a
        sandbox terminated without one, 1 for one that failed without one). Polls as
        :meth:`wait_until_running` does; :class:`SandboxTimeoutError` after ``timeout``
        seconds."""
        code: int = await self._resource._native.wait_sandbox_async(self.id, timeout)
        return code

    async def poll(self) -> int | None:
        """One status read: the exit code once the sandbox has ended (as :meth:`wait`), else
        ``None``."""
        code: int | None = await self._resource._native.poll_sandbox_async(self.id)
        return code

    async def __aenter__(self) -> AsyncSandbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Terminates the sandbox when the ``async with`` block ends, also on an exception,
        Ctrl-C or cancellation. A failure to terminate is raised only when the block itself
        succeeded."""
        try:
            await self._resource.delete_sandbox(self.id)
        except Exception:
            if exc is None:
                raise

    async def logs(
        self, *, since: str | None = None, limit: int | None = None
    ) -> builtins.list[LogLine]:
        """The sandbox's log lines: the workload's output and every exec's."""
        return (await self._resource.get_sandbox_logs(self.id, limit=limit, since=since)).logs

    async def exec(
        self,
        command: Sequence[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> ExecResponse:
        """Runs ``command`` (an argv; no shell) and waits for it. Never retried; a non-zero exit
        code is a normal result.

        The keyword options are extensions of the local server. ``timeout`` (seconds, > 0): the
        server kills the command's whole process tree at the deadline and the result has
        ``timed_out=True``, exit code 124 and the output so far (a server without the extension
        makes the call raise ``SandboxTimeoutError`` 10 s after the deadline; the command may keep
        running there). ``workdir``: an absolute directory to run in. ``env``: variables merged
        over the sandbox's. ``stdin``: text fed to standard input, which is then closed."""
        request = ExecRequest(command=command)  # type: ignore[arg-type]
        wire = await self._resource._native.exec_command_async(
            self.id, request.command, timeout, workdir, env, stdin
        )
        return _result(wire)

    async def start(
        self,
        command: Sequence[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bool = False,
        pty: bool | tuple[int, int] = False,
    ) -> AsyncProcess:
        """Starts ``command`` (an argv; no shell) as a process and returns it at once, with its
        id; it runs on its own: read its output with ``output()``, wait for it with ``wait()``.
        Never retried. Processes are an extension of the local server: any other server raises
        :class:`UnsupportedError` at once.

        ``timeout`` (seconds, > 0): a deadline enforced by the server, which then kills the
        process's whole tree (state ``timed_out``, exit code 124; its output stays readable).
        ``workdir``: an absolute directory to run in. ``env``: variables merged over the
        sandbox's. ``stdin=True`` keeps standard input open for ``write_stdin()`` until
        ``close_stdin()``. ``pty=True`` runs it in an 80x24 terminal (or give ``(cols, rows)``);
        its output is then one ``stdout`` stream."""
        args = _start_args(command, timeout, workdir, env, stdin, pty)
        return AsyncProcess(await self._resource._native.start_process_async(self.id, *args))

    async def process(self, exec_id: str) -> AsyncProcess:
        """The process ``exec_id`` of this sandbox (started by any client), with its status
        read; :class:`NotFoundError` when there is none."""
        return AsyncProcess(await self._resource._native.get_process_async(self.id, exec_id))

    async def processes(self) -> builtins.list[AsyncProcess]:
        """The sandbox's processes, running and ended, newest first, each with its status
        read."""
        natives = await self._resource._native.list_processes_async(self.id)
        return [AsyncProcess(p) for p in natives]
