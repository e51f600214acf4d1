"""The low-level clients: one attribute per resource, one method per endpoint."""

from __future__ import annotations

from types import TracebackType

from . import _native
from ._env import environment
from .resources import (
    AsyncHealthz,
    AsyncReadyz,
    AsyncSandboxes,
    AsyncSnapshots,
    AsyncVolumes,
    Healthz,
    Readyz,
    Sandboxes,
    Snapshots,
    Volumes,
)

__all__ = ["AsyncPorterSandboxApiClient", "PorterSandboxApiClient"]


def _native_client(
    api_key: str | None, base_url: str | None, timeout: float | None
) -> _native.NativeClient:
    return _native.NativeClient(
        api_key, base_url, None if timeout is None else float(timeout), environment()
    )


class PorterSandboxApiClient:
    """The low-level client. Configuration is resolved at construction (``ValueError`` when it
    cannot be)."""

    sandboxes: Sandboxes
    snapshots: Snapshots
    volumes: Volumes
    healthz: Healthz
    readyz: Readyz

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._native = _native_client(api_key, base_url, timeout)
        self.sandboxes = Sandboxes(self._native)
        self.snapshots = Snapshots(self._native)
        self.volumes = Volumes(self._native)
        self.healthz = Healthz(self._native)
        self.readyz = Readyz(self._native)

    @property
    def base_url(self) -> str:
        """The base URL in use."""
        return self._native.base_url

    def close(self) -> None:
        """Releases the connection pool; later calls raise ``SandboxError``."""
        self._native.close()

    def __enter__(self) -> PorterSandboxApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPorterSandboxApiClient:
    """The low-level client (async). Configuration is resolved at construction (``ValueError``
    when it cannot be)."""

    sandboxes: AsyncSandboxes
    snapshots: AsyncSnapshots
    volumes: AsyncVolumes
    healthz: AsyncHealthz
    readyz: AsyncReadyz

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._native = _native_client(api_key, base_url, timeout)
        self.sandboxes = AsyncSandboxes(self._native)
        self.snapshots = AsyncSnapshots(self._native)
        self.volumes = AsyncVolumes(self._native)
        self.healthz = AsyncHealthz(self._native)
        self.readyz = AsyncReadyz(self._native)

    @property
    def base_url(self) -> str:
        """The base URL in use."""
        return self._native.base_url

    async def aclose(self) -> None:
        """Releases the connection pool; later calls raise ``SandboxError``."""
        self._native.close()

    async def __aenter__(self) -> AsyncPorterSandboxApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
