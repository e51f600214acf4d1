"""Volume and volume-file endpoints. Paths are sent exactly as given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _convert
from .._models import (
    LookupResult,
    Volume,
    VolumeFileListResponse,
    VolumeFileMoveRequest,
    VolumeListResponse,
    VolumeSpec,
)
from .._native import NativeClient

if TYPE_CHECKING:
    from .._binary import BinaryBody, BinaryContent


def _binary_content(raw: Any) -> BinaryContent:
    # Imported on first use: ``dataclasses`` is slow to import.
    from .._binary import _binary_content as convert

    return convert(raw)

__all__ = ["AsyncVolumes", "Volumes"]


class Volumes:
    """The volume endpoints."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    def list_volumes(self) -> VolumeListResponse:
        """``GET /v1/volume``: every volume."""
        return VolumeListResponse._from_wire(self._native.list_volumes())

    def create_volume(self, body: VolumeSpec | Mapping[str, Any]) -> Volume:
        """``POST /v1/volume``: create a volume."""
        return Volume._from_wire(self._native.create_volume(_convert.body(body, "VolumeSpec")))

    def lookup_volume(self, name: str) -> LookupResult:
        """``GET /v1/volume/lookup``: the id of the volume named ``name``."""
        return LookupResult._from_wire(self._native.lookup_volume(name))

    def get_volume(self, id: str) -> Volume:
        """``GET /v1/volume/{id}``: the volume record."""
        return Volume._from_wire(self._native.get_volume(id))

    def _get_by_name(self, name: str) -> Volume:
        """The lookup of ``name`` then the record read, in one call into the core."""
        return Volume._from_wire(self._native.get_volume_by_name(name))

    def _delete_by_name(self, name: str) -> None:
        """The lookup of ``name`` then the delete, in one call into the core."""
        self._native.delete_volume_by_name(name)

    def delete_volume(self, id: str) -> None:
        """``DELETE /v1/volume/{id}``: delete the volume (refused while attached)."""
        self._native.delete_volume(id)

    def list_volume_files(
        self, id: str, path: str | None = None, search: str | None = None
    ) -> VolumeFileListResponse:
        """``GET /v1/volume/{id}/files``: a listing of ``path``, pruned to ``search``."""
        return VolumeFileListResponse._from_wire(self._native.list_volume_files(id, path, search))

    def read_volume_file(
        self, id: str, path: str, range: str | None = None, timeout: float | None = None
    ) -> BinaryContent:
        """``GET /v1/volume/{id}/files/content``: the file, or the raw ``Range`` ``range``
        (``timeout=None``: unbounded)."""
        return _binary_content(self._native.read_volume_file(id, path, range, timeout))

    def write_volume_file(
        self, id: str, body: BinaryBody, path: str, timeout: float | None = None
    ) -> None:
        """``PUT /v1/volume/{id}/files/content``: replace the file with ``body`` (bytes, or a
        binary file object, streamed) (``timeout=None``: unbounded)."""
        self._native.write_volume_file(id, body, path, timeout)

    def move_volume_file(self, id: str, body: VolumeFileMoveRequest | Mapping[str, Any]) -> None:
        """``POST /v1/volume/{id}/files/move``: move or rename; never overwrites."""
        self._native.move_volume_file(id, _convert.body(body, "VolumeFileMoveRequest"))


class AsyncVolumes:
    """The volume endpoints (async)."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    async def list_volumes(self) -> VolumeListResponse:
        """``GET /v1/volume``: every volume."""
        return VolumeListResponse._from_wire(await self._native.list_volumes_async())

    async def create_volume(self, body: VolumeSpec | Mapping[str, Any]) -> Volume:
        """``POST /v1/volume``: create a volume."""
        return Volume._from_wire(
            await self._native.create_volume_async(_convert.body(body, "VolumeSpec"))
        )

    async def lookup_volume(self, name: str) -> LookupResult:
        """``GET /v1/volume/lookup``: the id of the volume named ``name``."""
        return LookupResult._from_wire(await self._native.lookup_volume_async(name))

    async def get_volume(self, id: str) -> Volume:
        """``GET /v1/volume/{id}``: the volume record."""
        return Volume._from_wire(await self._native.get_volume_async(id))

    async def _get_by_name(self, name: str) -> Volume:
        """The lookup of ``name`` then the record read, in one call into the core."""
        return Volume._from_wire(await self._native.get_volume_by_name_async(name))

    async def _delete_by_name(self, name: str) -> None:
        """The lookup of ``name`` then the delete, in one call into the core."""
        await self._native.delete_volume_by_name_async(name)

    async def delete_volume(self, id: str) -> None:
        """``DELETE /v1/volume/{id}``: delete the volume (refused while attached)."""
        await self._native.delete_volume_async(id)

    async def list_volume_files(
        self, id: str, path: str | None = None, search: str | None = None
    ) -> VolumeFileListResponse:
        """``GET /v1/volume/{id}/files``: a listing of ``path``, pruned to ``search``."""
        return VolumeFileListResponse._from_wire(
            await self._native.list_volume_files_async(id, path, search)
        )

    async def read_volume_file(
        self, id: str, path: str, range: str | None = None, timeout: float | None = None
    ) -> BinaryContent:
        """``GET /v1/volume/{id}/files/content``: the file, or the raw ``Range`` ``range``
        (``timeout=None``: unbounded)."""
        return _binary_content(
            await self._native.read_volume_file_async(id, path, range, timeout)
        )

    async def write_volume_file(
        self, id: str, body: BinaryBody, path: str, timeout: float | None = None
    ) -> None:
        """``PUT /v1/volume/{id}/files/content``: replace the file with ``body`` (bytes, or a
        binary file object, streamed) (``timeout=None``: unbounded)."""
        await self._native.write_volume_file_async(id, body, path, timeout)

    async def move_volume_file(
        self, id: str, body: VolumeFileMoveRequest | Mapping[str, Any]
    ) -> None:
        """``POST /v1/volume/{id}/files/move``: move or rename; never overwrites."""
        await self._native.move_volume_file_async(
            id, _convert.body(body, "VolumeFileMoveRequest")
        )
