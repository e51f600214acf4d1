"""The health namespaces: ``porter.healthz``."""

from __future__ import annotations

from ._models import HealthResponse
from .resources import AsyncHealthz as AsyncHealthzResource
from .resources import Healthz as HealthzResource

__all__ = ["AsyncHealthz", "Healthz"]


class Healthz:
    """The service's health."""

    def __init__(self, resource: HealthzResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> HealthzResource:
        """The low-level health endpoint."""
        return self._resource

    def health_check(self) -> HealthResponse:
        """``GET /healthz``."""
        return self._resource.health_check()


class AsyncHealthz:
    """The service's health (async)."""

    def __init__(self, resource: AsyncHealthzResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> AsyncHealthzResource:
        """The low-level health endpoint."""
        return self._resource

    async def health_check(self) -> HealthResponse:
        """``GET /healthz``."""
        return await self._resource.health_check()
