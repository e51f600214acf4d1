"""Binary file content: what a volume file read returns, and what an upload accepts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Union

from . import _native

__all__ = ["BinaryBody", "BinaryContent", "ContentRange"]

BinaryBody = Union[bytes, IO[bytes]]
"""An upload: ``bytes``, or a binary file object (streamed; seekable, since it is sent again from
its start after the API's redirect)."""


@dataclass(frozen=True)
class ContentRange:
    """The byte range of a ranged read: ``Content-Range: bytes <start>-<end>/<size>``."""

    start: int
    end: int
    size: int

    @classmethod
    def parse(cls, header: str | None) -> ContentRange | None:
        """The range of a ``Content-Range`` header of exactly that form, else ``None``."""
        if header is None:
            return None
        parsed = _native.parse_content_range(header)
        return None if parsed is None else cls(*parsed)


@dataclass(frozen=True)
class BinaryContent:
    """The bytes of a file read, the range they cover, and the file's modification time."""

    data: bytes
    content_range: ContentRange | None
    last_modified: datetime | None


def _binary_content(
    raw: tuple[bytes, tuple[int, int, int] | None, float | None],
) -> BinaryContent:
    data, content_range, modified = raw
    return BinaryContent(
        data=data,
        content_range=None if content_range is None else ContentRange(*content_range),
        last_modified=None
        if modified is None
        else datetime.fromtimestamp(modified, tz=timezone.utc),
    )
