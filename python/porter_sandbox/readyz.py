"""The readiness namespaces: ``porter.readyz``."""

from __future__ import annotations

from ._models import ReadinessResponse
from .resources import AsyncReadyz as AsyncReadyzResource
from .resources import Readyz as ReadyzResource

__all__ = ["AsyncReadyz", "Readyz"]


class Readyz:
    """The service's readiness."""

    def __init__(self, resource: ReadyzResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> ReadyzResource:
        """The low-level readiness endpoint."""
        return self._resource

    def readiness_check(self) -> ReadinessResponse:
        """``GET /readyz``."""
        return self._resource.readiness_check()


class AsyncReadyz:
    """The service's readiness (async)."""

    def __init__(self, resource: AsyncReadyzResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> AsyncReadyzResource:
        """The low-level readiness endpoint."""
        return self._resource

    async def readiness_check(self) -> ReadinessResponse:
        """``GET /readyz``."""
        return await self._resource.readiness_check()
