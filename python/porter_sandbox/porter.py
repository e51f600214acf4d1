"""The entry points: :class:`Porter` and :class:`AsyncPorter`."""

from __future__ import annotations

from types import TracebackType

from ._client import AsyncPorterSandboxApiClient, PorterSandboxApiClient
from .healthz import AsyncHealthz, Healthz
from .readyz import AsyncReadyz, Readyz
from .sandboxes import AsyncSandboxes, Sandboxes
from .snapshots import AsyncSnapshots, Snapshots
from .volumes import AsyncVolumes, Volumes

__all__ = ["AsyncPorter", "Porter"]


class Porter:
    """The Porter Sandbox client.

    Settings not given are resolved from the environment (``PORTER_SANDBOX_BASE_URL``,
    ``PORTER_CLUSTER_ID`` + ``PORTER_SANDBOX_API_KEY``, or the in-cluster address); a
    :class:`ValueError` says what to set when that fails. ``timeout`` is the default per-call
    timeout in seconds (30); exec and file transfers have none.
    """

    healthz: Healthz
    readyz: Readyz
    sandboxes: Sandboxes
    snapshots: Snapshots
    volumes: Volumes

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._client = PorterSandboxApiClient(api_key=api_key, base_url=base_url, timeout=timeout)
        self.healthz = Healthz(self._client.healthz)
        self.readyz = Readyz(self._client.readyz)
        self.sandboxes = Sandboxes(self._client.sandboxes)
        self.snapshots = Snapshots(self._client.snapshots)
        self.volumes = Volumes(self._client.volumes)

    @property
    def raw(self) -> PorterSandboxApiClient:
        """The low-level client: one method per endpoint."""
        return self._client

    def close(self) -> None:
        """Releases the connection pool; later calls raise ``SandboxError``."""
        self._client.close()

    def __enter__(self) -> Porter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPorter:
    """The Porter Sandbox client (async): every call is a coroutine running on the Rust core's
    I/O threads; cancelling the task cancels the request. Settings as for :class:`Porter`."""

    healthz: AsyncHealthz
    readyz: AsyncReadyz
    sandboxes: AsyncSandboxes
    snapshots: AsyncSnapshots
    volumes: AsyncVolumes

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._client = AsyncPorterSandboxApiClient(
            api_key=api_key, base_url=base_url, timeout=timeout
        )
        self.healthz = AsyncHealthz(self._client.healthz)
        self.readyz = AsyncReadyz(self._client.readyz)
        self.sandboxes = AsyncSandboxes(self._client.sandboxes)
        self.snapshots = AsyncSnapshots(self._client.snapshots)
        self.volumes = AsyncVolumes(self._client.volumes)

    @property
    def raw(self) -> AsyncPorterSandboxApiClient:
        """The low-level client: one method per endpoint."""
        return self._client

    async def aclose(self) -> None:
        """Releases the connection pool; later calls raise ``SandboxError``."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncPorter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
