"""Snapshot endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _convert
from .._models import Snapshot, SnapshotListResponse, SnapshotSpec
from .._native import NativeClient

__all__ = ["AsyncSnapshots", "Snapshots"]


class Snapshots:
    """The snapshot endpoints."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    def create_snapshot(self, id: str, body: SnapshotSpec | Mapping[str, Any]) -> Snapshot:
        """``POST /v1/sandbox/{id}/snapshot``: capture the running sandbox ``id``."""
        return Snapshot._from_wire(
            self._native.create_snapshot(id, _convert.body(body, "SnapshotSpec"))
        )

    def list_snapshots(self, sandbox_id: str | None = None) -> SnapshotListResponse:
        """``GET /v1/snapshot``: snapshots, newest first, optionally of one sandbox."""
        return SnapshotListResponse._from_wire(self._native.list_snapshots(sandbox_id))

    def get_snapshot(self, id: str) -> Snapshot:
        """``GET /v1/snapshot/{id}``: one snapshot and its capture status."""
        return Snapshot._from_wire(self._native.get_snapshot(id))

    def delete_snapshot(self, id: str) -> None:
        """``DELETE /v1/snapshot/{id}``: delete the snapshot."""
        self._native.delete_snapshot(id)


class AsyncSnapshots:
    """The snapshot endpoints (async)."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    async def create_snapshot(self, id: str, body: SnapshotSpec | Mapping[str, Any]) -> Snapshot:
        """``POST /v1/sandbox/{id}/snapshot``: capture the running sandbox ``id``."""
        return Snapshot._from_wire(
            await self._native.create_snapshot_async(id, _convert.body(body, "SnapshotSpec"))
        )

    async def list_snapshots(self, sandbox_id: str | None = None) -> SnapshotListResponse:
        """``GET /v1/snapshot``: snapshots, newest first, optionally of one sandbox."""
        return SnapshotListResponse._from_wire(await self._native.list_snapshots_async(sandbox_id))

    async def get_snapshot(self, id: str) -> Snapshot:
        """``GET /v1/snapshot/{id}``: one snapshot and its capture status."""
        return Snapshot._from_wire(await self._native.get_snapshot_async(id))

    async def delete_snapshot(self, id: str) -> None:
        """``DELETE /v1/snapshot/{id}``: delete the snapshot."""
        await self._native.delete_snapshot_async(id)
