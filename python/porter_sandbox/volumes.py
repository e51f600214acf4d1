"""The volume namespaces: ``porter.volumes``."""

from __future__ import annotations

import builtins

from ._models import VolumeObjectSpec, VolumeSpec
from .enums import VolumeSpecType
from .resources import AsyncVolumes as AsyncVolumesResource
from .resources import Volumes as VolumesResource
from .volume import AsyncObjectVolume, AsyncVolume, ObjectVolume, Volume, _wrap, _wrap_async

__all__ = ["AsyncVolumes", "Volumes"]


class Volumes:
    """Create, list, find and delete volumes. Object volumes become :class:`ObjectVolume`,
    every other type the disk handle :class:`Volume`."""

    def __init__(self, resource: VolumesResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> VolumesResource:
        """The low-level volume endpoints."""
        return self._resource

    def create(
        self,
        *,
        name: str | None = None,
        type: VolumeSpecType | None = None,
        object: VolumeObjectSpec | None = None,
    ) -> Volume | ObjectVolume:
        """Creates a volume (an unnamed disk volume when nothing is given)."""
        record = self._resource.create_volume(VolumeSpec(name=name, type=type, object=object))
        return _wrap(record, self._resource)

    def list(self) -> builtins.list[Volume | ObjectVolume]:
        """Every volume."""
        return [_wrap(r, self._resource) for r in self._resource.list_volumes().volumes]

    def get(self, name: str) -> Volume | ObjectVolume:
        """The volume named ``name`` (a lookup, then a read by id)."""
        return _wrap(self._resource._get_by_name(name), self._resource)

    def delete(self, name: str) -> None:
        """Deletes the volume named ``name`` (a lookup, then a delete by id)."""
        self._resource._delete_by_name(name)


class AsyncVolumes:
    """Create, list, find and delete volumes (async). Object volumes become
    :class:`AsyncObjectVolume`, every other type the disk handle :class:`AsyncVolume`."""

    def __init__(self, resource: AsyncVolumesResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> AsyncVolumesResource:
        """The low-level volume endpoints."""
        return self._resource

    async def create(
        self,
        *,
        name: str | None = None,
        type: VolumeSpecType | None = None,
        object: VolumeObjectSpec | None = None,
    ) -> AsyncVolume | AsyncObjectVolume:
        """Creates a volume (an unnamed disk volume when nothing is given)."""
        spec = VolumeSpec(name=name, type=type, object=object)
        return _wrap_async(await self._resource.create_volume(spec), self._resource)

    async def list(self) -> builtins.list[AsyncVolume | AsyncObjectVolume]:
        """Every volume."""
        listed = await self._resource.list_volumes()
        return [_wrap_async(r, self._resource) for r in listed.volumes]

    async def get(self, name: str) -> AsyncVolume | AsyncObjectVolume:
        """The volume named ``name`` (a lookup, then a read by id)."""
        return _wrap_async(await self._resource._get_by_name(name), self._resource)

    async def delete(self, name: str) -> None:
        """Deletes the volume named ``name`` (a lookup, then a delete by id)."""
        await self._resource._delete_by_name(name)
