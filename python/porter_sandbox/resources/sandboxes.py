"""Sandbox endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _convert
from .._models import (
    CountResponse,
    CreateResponse,
    ExecRequest,
    ExecResponse,
    ListResponse,
    LogsResponse,
    LookupResult,
    MetricSummaryResponse,
    SandboxMetricsResponse,
    SandboxSpec,
    StatusResponse,
)
from .._native import NativeClient
from ..enums import SandboxesPhase, SandboxesSource, SandboxMetric

__all__ = ["AsyncSandboxes", "Sandboxes"]


class Sandboxes:
    """The sandbox endpoints."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    def list_sandboxes(
        self,
        start_time: str | None = None,
        end_time: str | None = None,
        search: str | None = None,
        tag: list[str] | None = None,
        phase: list[SandboxesPhase] | None = None,
        image: str | None = None,
        include_filter_values: bool | None = None,
        page: int | None = None,
    ) -> ListResponse:
        """``GET /v1/sandbox``: one page of sandboxes (``tag`` items are ``key=value``)."""
        return ListResponse._from_wire(
            self._native.list_sandboxes(
                start_time,
                end_time,
                search,
                _convert.strings(tag),
                _convert.wires(phase),
                image,
                include_filter_values,
                page,
            )
        )

    def sandbox_counts(
        self,
        start_time: str | None = None,
        end_time: str | None = None,
        search: str | None = None,
        tag: list[str] | None = None,
        phase: list[SandboxesPhase] | None = None,
        image: str | None = None,
    ) -> CountResponse:
        """``GET /v1/sandbox/counts``: sandboxes created per time bucket."""
        return CountResponse._from_wire(
            self._native.sandbox_counts(
                start_time, end_time, search, _convert.strings(tag), _convert.wires(phase), image
            )
        )

    def create_sandbox(self, body: SandboxSpec | Mapping[str, Any]) -> CreateResponse:
        """``POST /v1/sandbox/run``: create a sandbox (queued; answered 202)."""
        return CreateResponse._from_wire(
            self._native.create_sandbox(_convert.body(body, "SandboxSpec"))
        )

    def lookup_sandbox(self, name: str) -> LookupResult:
        """``GET /v1/sandbox/lookup``: the id of the sandbox named ``name``."""
        return LookupResult._from_wire(self._native.lookup_sandbox(name))

    def get_sandbox(self, id: str) -> StatusResponse:
        """``GET /v1/sandbox/{id}``: the sandbox's status."""
        return StatusResponse._from_wire(self._native.get_sandbox(id))

    def _get_by_name(self, name: str) -> StatusResponse:
        """The lookup of ``name`` then the status read, in one call into the core."""
        return StatusResponse._from_wire(self._native.get_sandbox_by_name(name))

    def delete_sandbox(self, id: str, source: SandboxesSource | None = None) -> None:
        """``DELETE /v1/sandbox/{id}``: terminate the sandbox."""
        self._native.delete_sandbox(id, _convert.wire(source))

    def get_sandbox_logs(
        self, id: str, limit: int | None = None, since: str | None = None
    ) -> LogsResponse:
        """``GET /v1/sandbox/{id}/logs``: the sandbox's log lines."""
        return LogsResponse._from_wire(self._native.get_sandbox_logs(id, limit, since))

    def exec_sandbox(
        self, id: str, body: ExecRequest | Mapping[str, Any], timeout: float | None = None
    ) -> ExecResponse:
        """``POST /v1/sandbox/{id}/exec``: run a command and wait for it (``timeout=None``:
        as long as it runs). Never retried."""
        return ExecResponse._from_wire(
            self._native.exec_sandbox(id, _convert.body(body, "ExecRequest"), timeout)
        )

    def get_sandbox_metrics_summary(
        self, id: str, since: str | None = None
    ) -> MetricSummaryResponse:
        """``GET /v1/sandbox/{id}/metrics-summary``: CPU and memory percentiles."""
        return MetricSummaryResponse._from_wire(
            self._native.get_sandbox_metrics_summary(id, since)
        )

    def get_sandbox_metrics(
        self, id: str, metric: SandboxMetric, start_time_utc: str, end_time_utc: str
    ) -> SandboxMetricsResponse:
        """``GET /v1/sandbox/{id}/metrics``: one metric's time series."""
        return SandboxMetricsResponse._from_wire(
            self._native.get_sandbox_metrics(
                id, _convert.wire_str(metric), start_time_utc, end_time_utc
            )
        )


class AsyncSandboxes:
    """The sandbox endpoints (async)."""

    def __init__(self, client: NativeClient) -> None:
        self._native = client

    async def list_sandboxes(
        self,
        start_time: str | None = None,
        end_time: str | None = None,
        search: str | None = None,
        tag: list[str] | None = None,
        phase: list[SandboxesPhase] | None = None,
        image: str | None = None,
        include_filter_values: bool | None = None,
        page: int | None = None,
    ) -> ListResponse:
        """``GET /v1/sandbox``: one page of sandboxes (``tag`` items are ``key=value``)."""
        return ListResponse._from_wire(
            await self._native.list_sandboxes_async(
                start_time,
                end_time,
                search,
                _convert.strings(tag),
                _convert.wires(phase),
                image,
                include_filter_values,
                page,
            )
        )

    async def sandbox_counts(
        self,
        start_time: str | None = None,
        end_time: str | None = None,
        search: str | None = None,
        tag: list[str] | None = None,
        phase: list[SandboxesPhase] | None = None,
        image: str | None = None,
    ) -> CountResponse:
        """``GET /v1/sandbox/counts``: sandboxes created per time bucket."""
        return CountResponse._from_wire(
            await self._native.sandbox_counts_async(
                start_time, end_time, search, _convert.strings(tag), _convert.wires(phase), image
            )
        )

    async def create_sandbox(self, body: SandboxSpec | Mapping[str, Any]) -> CreateResponse:
        """``POST /v1/sandbox/run``: create a sandbox (queued; answered 202)."""
        return CreateResponse._from_wire(
            await self._native.create_sandbox_async(_convert.body(body, "SandboxSpec"))
        )

    async def lookup_sandbox(self, name: str) -> LookupResult:
        """``GET /v1/sandbox/lookup``: the id of the sandbox named ``name``."""
        return LookupResult._from_wire(await self._native.lookup_sandbox_async(name))

    async def get_sandbox(self, id: str) -> StatusResponse:
        """``GET /v1/sandbox/{id}``: the sandbox's status."""
        return StatusResponse._from_wire(await self._native.get_sandbox_async(id))

    async def _get_by_name(self, name: str) -> StatusResponse:
        """The lookup of ``name`` then the status read, in one call into the core."""
        return StatusResponse._from_wire(await self._native.get_sandbox_by_name_async(name))

    async def delete_sandbox(self, id: str, source: SandboxesSource | None = None) -> None:
        """``DELETE /v1/sandbox/{id}``: terminate the sandbox."""
        await self._native.delete_sandbox_async(id, _convert.wire(source))

    async def get_sandbox_logs(
        self, id: str, limit: int | None = None, since: str | None = None
    ) -> LogsResponse:
        """``GET /v1/sandbox/{id}/logs``: the sandbox's log lines."""
        return LogsResponse._from_wire(await self._native.get_sandbox_logs_async(id, limit, since))

    async def exec_sandbox(
        self, id: str, body: ExecRequest | Mapping[str, Any], timeout: float | None = None
    ) -> ExecResponse:
        """``POST /v1/sandbox/{id}/exec``: run a command and wait for it (``timeout=None``:
        as long as it runs). Never retried."""
        return ExecResponse._from_wire(
            await self._native.exec_sandbox_async(id, _convert.body(body, "ExecRequest"), timeout)
        )

    async def get_sandbox_metrics_summary(
        self, id: str, since: str | None = None
    ) -> MetricSummaryResponse:
        """``GET /v1/sandbox/{id}/metrics-summary``: CPU and memory percentiles."""
        return MetricSummaryResponse._from_wire(
            await self._native.get_sandbox_metrics_summary_async(id, since)
        )

    async def get_sandbox_metrics(
        self, id: str, metric: SandboxMetric, start_time_utc: str, end_time_utc: str
    ) -> SandboxMetricsResponse:
        """``GET /v1/sandbox/{id}/metrics``: one metric's time series."""
        return SandboxMetricsResponse._from_wire(
            await self._native.get_sandbox_metrics_async(
                id, _convert.wire_str(metric), start_time_utc, end_time_utc
            )
        )
