"""The snapshot namespaces: ``porter.snapshots``."""

from __future__ import annotations

from ._models import Snapshot, SnapshotListResponse, SnapshotSpec
from .resources import AsyncSnapshots as AsyncSnapshotsResource
from .resources import Snapshots as SnapshotsResource

__all__ = ["AsyncSnapshots", "Snapshots"]


class Snapshots:
    """Capture, list, read and delete snapshots."""

    def __init__(self, resource: SnapshotsResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> SnapshotsResource:
        """The low-level snapshot endpoints."""
        return self._resource

    def create(self, id: str, body: SnapshotSpec) -> Snapshot:
        """Captures the running sandbox ``id`` (``SnapshotSpec()`` for the defaults); poll
        :meth:`get` until its status is ``ready`` or ``failed``."""
        return self._resource.create_snapshot(id, body)

    def list(self, sandbox_id: str | None = None) -> SnapshotListResponse:
        """Snapshots, newest first, optionally only those of one sandbox."""
        return self._resource.list_snapshots(sandbox_id)

    def get(self, id: str) -> Snapshot:
        """One snapshot and its capture status."""
        return self._resource.get_snapshot(id)

    def delete(self, id: str) -> None:
        """Deletes a snapshot."""
        self._resource.delete_snapshot(id)


class AsyncSnapshots:
    """Capture, list, read and delete snapshots (async)."""

    def __init__(self, resource: AsyncSnapshotsResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> AsyncSnapshotsResource:
        """The low-level snapshot endpoints."""
        return self._resource

    async def create(self, id: str, body: SnapshotSpec) -> Snapshot:
        """Captures the running sandbox ``id`` (``SnapshotSpec()`` for the defaults); poll
        :meth:`get` until its status is ``ready`` or ``failed``."""
        return await self._resource.create_snapshot(id, body)

    async def list(self, sandbox_id: str | None = None) -> SnapshotListResponse:
        """Snapshots, newest first, optionally only those of one sandbox."""
        return await self._resource.list_snapshots(sandbox_id)

    async def get(self, id: str) -> Snapshot:
        """One snapshot and its capture status."""
        return await self._resource.get_snapshot(id)

    async def delete(self, id: str) -> None:
        """Deletes a snapshot."""
        await self._resource.delete_snapshot(id)
