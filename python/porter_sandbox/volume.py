"""The volume handles (:class:`Volume`, :class:`ObjectVolume` and their async forms) and
:class:`VolumeFile`.

Every file method normalizes its paths the core's way (``a/b/`` → ``/a/b``) and runs the core's
algorithms: the depth-first ``iterdir`` walk, ``search``, ranged reads and chunked ``stream``.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _convert, _native
from ._errors import SandboxError
from ._models import Volume as VolumeRecord
from ._models import VolumeFileEntry, VolumeObjectSpec
from .enums import VolumeFileEntryType, VolumePhase, VolumeType
from .resources import AsyncVolumes as AsyncVolumesResource
from .resources import Volumes as VolumesResource

if TYPE_CHECKING:
    from ._binary import BinaryBody

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "AsyncObjectVolume",
    "AsyncVolume",
    "ObjectVolume",
    "Volume",
    "VolumeFile",
]

DEFAULT_CHUNK_BYTES: int = _native.DEFAULT_CHUNK_BYTES
"""Chunk size of :meth:`Volume.stream`: 8 MiB."""

_ENTRY_TYPES: dict[str, VolumeFileEntryType] = {t.value: t for t in VolumeFileEntryType}


class VolumeFile:
    """A file or directory of a volume listing, with its full path."""

    name: str
    path: str
    type: VolumeFileEntryType
    size_bytes: int
    modified_at: datetime | None
    truncated: bool

    def __init__(self, entry: VolumeFileEntry, parent_path: str) -> None:
        self.name = entry.name
        self.path = _native.join_path(parent_path, entry.name)
        self.type = entry.type
        self.size_bytes = entry.size_bytes
        self.modified_at = _convert.parse_timestamp(entry.modified_at)
        self.truncated = bool(entry.truncated)

    @classmethod
    def _from_native(cls, item: tuple[str, str, str, int, str | None, bool]) -> VolumeFile:
        name, path, kind, size_bytes, modified_at, truncated = item
        file = cls.__new__(cls)
        file.name = name
        file.path = path
        file.type = _ENTRY_TYPES.get(kind, kind)  # type: ignore[arg-type]
        file.size_bytes = size_bytes
        file.modified_at = _convert.parse_timestamp(modified_at)
        file.truncated = truncated
        return file

    @property
    def is_directory(self) -> bool:
        """Whether this is a directory."""
        return self.type == VolumeFileEntryType.DIRECTORY

    @property
    def is_file(self) -> bool:
        """Whether this is a regular file."""
        return self.type == VolumeFileEntryType.FILE

    def __repr__(self) -> str:
        return f"VolumeFile(path={self.path!r}, type={self.type!r}, size_bytes={self.size_bytes!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VolumeFile):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]


def _files(items: builtins.list[Any]) -> builtins.list[VolumeFile]:
    return [VolumeFile._from_native(item) for item in items]


def _record_dict(record: VolumeRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", by_alias=True, exclude_none=True)


def _chunk_size(chunk_size: int) -> int:
    size = _convert.non_negative("chunk_size", chunk_size)
    if not size:
        raise ValueError("chunk_size must be at least 1 byte")
    return size


class _BaseVolume:
    """What every volume handle shows, read from the cached record."""

    _record: VolumeRecord

    @property
    def id(self) -> str:
        """The volume id."""
        return self._record.id

    @property
    def name(self) -> str:
        """The volume name."""
        return self._record.name

    @property
    def type(self) -> VolumeType:
        """The volume type."""
        return self._record.type

    @property
    def phase(self) -> VolumePhase:
        """The lifecycle phase."""
        return self._record.phase

    @property
    def attached_to(self) -> builtins.list[str]:
        """Ids of the sandboxes the volume is attached to."""
        return self._record.attached_to

    @property
    def created_at(self) -> datetime | None:
        """Creation time; ``None`` when the record has none."""
        return _convert.parse_timestamp(self._record.created_at)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, name={self.name!r})"


class _ObjectSpec(_BaseVolume):
    @property
    def object(self) -> VolumeObjectSpec:
        """The bucket behind the volume."""
        spec = self._record.object
        if spec is None:
            raise SandboxError("volume record is missing its object spec")
        return spec


class _DiskPath(_BaseVolume):
    _resource: VolumesResource | AsyncVolumesResource
    _handle: _native.NativeVolume | None

    @property
    def path(self) -> str:
        """The data subdirectory under the shared volumes mount."""
        return self._record.path

    def _native_volume(self) -> _native.NativeVolume:
        handle = self._handle
        if handle is None or handle.id != self._record.id:
            handle = self._resource._native.volume(_record_dict(self._record))
            self._handle = handle
        return handle


class Volume(_DiskPath):
    """A disk volume, with file operations."""

    def __init__(self, *, record: VolumeRecord, resource: VolumesResource) -> None:
        self._record = record
        self._resource: VolumesResource = resource
        self._handle = None

    def refresh(self) -> VolumeRecord:
        """Reads the record again (``GET /v1/volume/{id}``), keeps it and returns it."""
        self._record = self._resource.get_volume(self.id)
        return self._record

    def delete(self) -> None:
        """Deletes the volume (refused while it is attached to a sandbox)."""
        self._resource.delete_volume(self.id)

    def listdir(self, path: str = "/") -> builtins.list[VolumeFile]:
        """The direct entries of the directory ``path``: directories first, then files."""
        return _files(self._native_volume().listdir(path))

    def iterdir(self, path: str = "/") -> Iterator[VolumeFile]:
        """Everything under ``path``, depth-first pre-order, lazily (one listing, plus one per
        truncated directory reached)."""
        items = self._native_volume().iterdir(path)
        while (item := items.next()) is not None:
            yield VolumeFile._from_native(item)

    def search(self, query: str, *, path: str = "/") -> builtins.list[VolumeFile]:
        """Entries under ``path`` whose name contains ``query`` (case-insensitive)."""
        return _files(self._native_volume().search(query, path))

    def read_file(
        self, path: str, *, offset: int | None = None, length: int | None = None
    ) -> bytes:
        """The file's bytes, or ``length`` bytes from ``offset`` (to the end without
        ``length``). No timeout."""
        return self._native_volume().read_file(
            path, _convert.non_negative("offset", offset), _convert.non_negative("length", length)
        )

    def read_text(
        self,
        path: str,
        *,
        offset: int | None = None,
        length: int | None = None,
        encoding: str = "utf-8",
    ) -> str:
        """:meth:`read_file`, decoded."""
        return self.read_file(path, offset=offset, length=length).decode(encoding)

    def write_file(self, path: str, content: BinaryBody) -> None:
        """Replaces the file at ``path`` atomically, creating its parents. A file object is
        streamed, never read into memory. No timeout."""
        self._native_volume().write_file(path, content)

    def write_text(self, path: str, content: str, *, encoding: str = "utf-8") -> None:
        """:meth:`write_file` of the encoded text."""
        self.write_file(path, content.encode(encoding))

    def move_file(self, from_path: str, to_path: str) -> None:
        """Moves or renames ``from_path`` to ``to_path``; never overwrites."""
        self._native_volume().move_file(from_path, to_path)

    def stream(self, path: str, *, chunk_size: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
        """The file in chunks of ``chunk_size`` bytes, one ranged request per chunk."""
        chunks = self._native_volume().stream(path, _chunk_size(chunk_size))
        while (chunk := chunks.next()) is not None:
            yield chunk


class ObjectVolume(_ObjectSpec):
    """An object volume: a registered bucket (its files live in the bucket)."""

    def __init__(self, *, record: VolumeRecord, resource: VolumesResource) -> None:
        self._record = record
        self._resource = resource

    def refresh(self) -> VolumeRecord:
        """Reads the record again (``GET /v1/volume/{id}``), keeps it and returns it."""
        self._record = self._resource.get_volume(self.id)
        return self._record

    def delete(self) -> None:
        """Deletes the volume (refused while it is attached to a sandbox)."""
        self._resource.delete_volume(self.id)


class AsyncVolume(_DiskPath):
    """A disk volume, with file operations (async)."""

    def __init__(self, *, record: VolumeRecord, resource: AsyncVolumesResource) -> None:
        self._record = record
        self._resource: AsyncVolumesResource = resource
        self._handle = None

    async def refresh(self) -> VolumeRecord:
        """Reads the record again (``GET /v1/volume/{id}``), keeps it and returns it."""
        self._record = await self._resource.get_volume(self.id)
        return self._record

    async def delete(self) -> None:
        """Deletes the volume (refused while it is attached to a sandbox)."""
        await self._resource.delete_volume(self.id)

    async def listdir(self, path: str = "/") -> builtins.list[VolumeFile]:
        """The direct entries of the directory ``path``: directories first, then files."""
        return _files(await self._native_volume().listdir_async(path))

    async def iterdir(self, path: str = "/") -> AsyncIterator[VolumeFile]:
        """Everything under ``path``, depth-first pre-order, lazily (one listing, plus one per
        truncated directory reached)."""
        items = self._native_volume().iterdir(path)
        while (item := await items.next_async()) is not None:
            yield VolumeFile._from_native(item)

    async def search(self, query: str, *, path: str = "/") -> builtins.list[VolumeFile]:
        """Entries under ``path`` whose name contains ``query`` (case-insensitive)."""
        return _files(await self._native_volume().search_async(query, path))

    async def read_file(
        self, path: str, *, offset: int | None = None, length: int | None = None
    ) -> bytes:
        """The file's bytes, or ``length`` bytes from ``offset`` (to the end without
        ``length``). No timeout."""
        return await self._native_volume().read_file_async(
            path, _convert.non_negative("offset", offset), _convert.non_negative("length", length)
        )

    async def read_text(
        self,
        path: str,
        *,
        offset: int | None = None,
        length: int | None = None,
        encoding: str = "utf-8",
    ) -> str:
        """:meth:`read_file`, decoded."""
        return (await self.read_file(path, offset=offset, length=length)).decode(encoding)

    async def write_file(self, path: str, content: BinaryBody) -> None:
        """Replaces the file at ``path`` atomically, creating its parents. A file object is
        streamed, never read into memory. No timeout."""
        await self._native_volume().write_file_async(path, content)

    async def write_text(self, path: str, content: str, *, encoding: str = "utf-8") -> None:
        """:meth:`write_file` of the encoded text."""
        await self.write_file(path, content.encode(encoding))

    async def move_file(self, from_path: str, to_path: str) -> None:
        """Moves or renames ``from_path`` to ``to_path``; never overwrites."""
        await self._native_volume().move_file_async(from_path, to_path)

    async def stream(
        self, path: str, *, chunk_size: int = DEFAULT_CHUNK_BYTES
    ) -> AsyncIterator[bytes]:
        """The file in chunks of ``chunk_size`` bytes, one ranged request per chunk."""
        chunks = self._native_volume().stream(path, _chunk_size(chunk_size))
        while (chunk := await chunks.next_async()) is not None:
            yield chunk


class AsyncObjectVolume(_ObjectSpec):
    """An object volume: a registered bucket (its files live in the bucket) (async)."""

    def __init__(self, *, record: VolumeRecord, resource: AsyncVolumesResource) -> None:
        self._record = record
        self._resource = resource

    async def refresh(self) -> VolumeRecord:
        """Reads the record again (``GET /v1/volume/{id}``), keeps it and returns it."""
        self._record = await self._resource.get_volume(self.id)
        return self._record

    async def delete(self) -> None:
        """Deletes the volume (refused while it is attached to a sandbox)."""
        await self._resource.delete_volume(self.id)


def _wrap(record: VolumeRecord, resource: VolumesResource) -> Volume | ObjectVolume:
    if record.type == VolumeType.OBJECT:
        return ObjectVolume(record=record, resource=resource)
    return Volume(record=record, resource=resource)


def _wrap_async(
    record: VolumeRecord, resource: AsyncVolumesResource
) -> AsyncVolume | AsyncObjectVolume:
    if record.type == VolumeType.OBJECT:
        return AsyncObjectVolume(record=record, resource=resource)
    return AsyncVolume(record=record, resource=resource)
