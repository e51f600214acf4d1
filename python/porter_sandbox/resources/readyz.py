"""``GET /readyz``."""

from __future__ import annotations

from .._models import ReadinessResponse
from .._native import NativeClient

__all__ = ["AsyncReadyz", "Readyz"]


class Readyz:
    """The readiness endpoint."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    def readiness_check(self) -> ReadinessResponse:
        """``GET /readyz``: readiness and the number of active sandboxes."""
        return ReadinessResponse._from_wire(self._native.readiness_check())


class AsyncReadyz:
    """The readiness endpoint (async)."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    async def readiness_check(self) -> ReadinessResponse:
        """``GET /readyz``: readiness and the number of active sandboxes."""
        return ReadinessResponse._from_wire(await self._native.readiness_check_async())
