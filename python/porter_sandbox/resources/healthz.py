"""``GET /healthz``."""

from __future__ import annotations

from .._models import HealthResponse
from .._native import NativeClient

__all__ = ["AsyncHealthz", "Healthz"]


class Healthz:
    """The health endpoint."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    def health_check(self) -> HealthResponse:
        """``GET /healthz``: the service's health."""
        return HealthResponse._from_wire(self._native.health_check())


class AsyncHealthz:
    """The health endpoint (async)."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    async def health_check(self) -> HealthResponse:
        """``GET /healthz``: the service's health."""
        return HealthResponse._from_wire(await self._native.health_check_async())
