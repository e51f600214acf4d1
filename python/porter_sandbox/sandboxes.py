"""The sandbox namespaces: ``porter.sandboxes``."""

from __future__ import annotations

import builtins

from . import _convert
from ._models import (
    SandboxEgressSpec,
    SandboxNetworkingSpec,
    SandboxResourcesSpec,
    SandboxSpec,
    StatusResponse,
)
from .enums import SandboxesPhase
from .resources import AsyncSandboxes as AsyncSandboxesResource
from .resources import Sandboxes as SandboxesResource
from .sandbox import AsyncSandbox, Sandbox

__all__ = ["AsyncSandboxes", "Sandboxes"]


def _spec(
    image: str,
    snapshot_id: str | None,
    name: str | None,
    tags: dict[str, str] | None,
    command: list[str] | None,
    args: list[str] | None,
    env: dict[str, str] | None,
    env_groups: list[str] | None,
    volume_mounts: dict[str, str] | None,
    networking: list[SandboxNetworkingSpec] | None,
    egress: SandboxEgressSpec | None,
    resources: SandboxResourcesSpec | None,
    ttl_seconds: int | None,
    lease_seconds: int | None,
) -> SandboxSpec:
    return SandboxSpec(
        image=image,
        snapshot_id=snapshot_id,
        name=name,
        tags=tags,
        command=command,
        args=args,
        env=env,
        env_groups=env_groups,
        volume_mounts=volume_mounts,
        networking=networking,
        egress=egress,
        resources=resources,
        ttl_seconds=ttl_seconds,
        lease_seconds=lease_seconds,
    )


def _tag_filter(tags: dict[str, str] | None) -> list[str] | None:
    if not tags:
        return None
    return [f"{key}={value}" for key, value in tags.items()]


class Sandboxes:
    """Create, find and list sandboxes."""

    def __init__(self, resource: SandboxesResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> SandboxesResource:
        """The low-level sandbox endpoints."""
        return self._resource

    def create(
        self,
        image: str,
        *,
        snapshot_id: str | None = None,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        command: list[str] | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        env_groups: list[str] | None = None,
        volume_mounts: dict[str, str] | None = None,
        networking: list[SandboxNetworkingSpec] | None = None,
        egress: SandboxEgressSpec | None = None,
        resources: SandboxResourcesSpec | None = None,
        ttl_seconds: int | None = None,
        lease_seconds: int | None = None,
    ) -> Sandbox:
        """Creates a sandbox from ``image`` (``""`` with ``snapshot_id``). The handle holds only
        the id: ``phase`` and ``tags`` are ``None`` until :meth:`Sandbox.refresh`.

        Use it as ``with porter.sandboxes.create(...) as sandbox:`` to terminate the sandbox
        when the block ends. With ``lease_seconds`` (a local-server extension) the server
        terminates the sandbox unless its lease is renewed; this client renews it in the
        background while it is open. The create is safe to retry (it sends an
        ``Idempotency-Key``)."""
        spec = _spec(
            image, snapshot_id, name, tags, command, args, env, env_groups, volume_mounts,
            networking, egress, resources, ttl_seconds, lease_seconds,
        )  # fmt: skip
        created = self._resource.create_sandbox(spec)
        return Sandbox(id=created.id, resource=self._resource)

    def get_or_create(
        self,
        name: str,
        image: str,
        *,
        snapshot_id: str | None = None,
        tags: dict[str, str] | None = None,
        command: list[str] | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        env_groups: list[str] | None = None,
        volume_mounts: dict[str, str] | None = None,
        networking: list[SandboxNetworkingSpec] | None = None,
        egress: SandboxEgressSpec | None = None,
        resources: SandboxResourcesSpec | None = None,
        ttl_seconds: int | None = None,
        lease_seconds: int | None = None,
    ) -> Sandbox:
        """The live sandbox named ``name``, or a new one created from ``image`` and the rest
        of the spec. Concurrent callers get the same sandbox."""
        spec = _spec(
            image, snapshot_id, name, tags, command, args, env, env_groups, volume_mounts,
            networking, egress, resources, ttl_seconds, lease_seconds,
        )  # fmt: skip
        found = self._resource._native.get_or_create_sandbox(name, _convert.body(spec, "SandboxSpec"))
        status = None if found["status"] is None else StatusResponse._from_wire(found["status"])
        return Sandbox(id=found["id"], resource=self._resource, status=status)

    def get(self, name: str) -> Sandbox:
        """The sandbox named ``name`` (a lookup, then a status read), with its status."""
        status = self._resource._get_by_name(name)
        return Sandbox(id=status.id, resource=self._resource, status=status)

    def list(
        self,
        *,
        start_time: str | None = None,
        end_time: str | None = None,
        search: str | None = None,
        tags: dict[str, str] | None = None,
        phase: builtins.list[SandboxesPhase] | None = None,
        image: str | None = None,
        include_filter_values: bool | None = None,
        page: int | None = None,
    ) -> builtins.list[Sandbox]:
        """One page of sandboxes, each with its status; all ``tags`` must match."""
        response = self._resource.list_sandboxes(
            start_time=start_time,
            end_time=end_time,
            search=search,
            tag=_tag_filter(tags),
            phase=phase,
            image=image,
            include_filter_values=include_filter_values,
            page=page,
        )
        return [Sandbox(id=s.id, resource=self._resource, status=s) for s in response.sandboxes]


class AsyncSandboxes:
    """Create, find and list sandboxes (async)."""

    def __init__(self, resource: AsyncSandboxesResource) -> None:
        self._resource = resource

    @property
    def raw(self) -> AsyncSandboxesResource:
        """The low-level sandbox endpoints."""
        return self._resource

    async def create(
        self,
        image: str,
        *,
        snapshot_id: str | None = None,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        command: list[str] | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        env_groups: list[str] | None = None,
        volume_mounts: dict[str, str] | None = None,
        networking: list[SandboxNetworkingSpec] | None = None,
        egress: SandboxEgressSpec | None = None,
        resources: SandboxResourcesSpec | None = None,
        ttl_seconds: int | None = None,
        lease_seconds: int | None = None,
    ) -> AsyncSandbox:
        """Creates a sandbox from ``image`` (``""`` with ``snapshot_id``). The handle holds only
        the id: ``phase`` and ``tags`` are ``None`` until :meth:`AsyncSandbox.refresh`.

        Use it as ``async with await porter.sandboxes.create(...) as sandbox:`` to terminate
        the sandbox when the block ends. ``lease_seconds`` as for :meth:`Sandboxes.create`."""
        spec = _spec(
            image, snapshot_id, name, tags, command, args, env, env_groups, volume_mounts,
            networking, egress, resources, ttl_seconds, lease_seconds,
        )  # fmt: skip
        created = await self._resource.create_sandbox(spec)
        return AsyncSandbox(id=created.id, resource=self._resource)

    async def get_or_create(
        self,
        name: str,
        image: str,
        *,
        snapshot_id: str | None = None,
        tags: dict[str, str] | None = None,
        command: list[str] | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        env_groups: list[str] | None = None,
        volume_mounts: dict[str, str] | None = None,
        networking: list[SandboxNetworkingSpec] | None = None,
        egress: SandboxEgressSpec | None = None,
        resources: SandboxResourcesSpec | None = None,
        ttl_seconds: int | None = None,
        lease_seconds: int | None = None,
    ) -> AsyncSandbox:
        """The live sandbox named ``name``, or a new one created from ``image`` and the rest
        of the spec. Concurrent callers get the same sandbox."""
        spec = _spec(
            image, snapshot_id, name, tags, command, args, env, env_groups, volume_mounts,
            networking, egress, resources, ttl_seconds, lease_seconds,
        )  # fmt: skip
        found = await self._resource._native.get_or_create_sandbox_async(
            name, _convert.body(spec, "SandboxSpec")
        )
        status = None if found["status"] is None else StatusResponse._from_wire(found["status"])
        return AsyncSandbox(id=found["id"], resource=self._resource, status=status)

    async def get(self, name: str) -> AsyncSandbox:
        """The sandbox named ``name`` (a lookup, then a status read), with its status."""
        status = await self._resource._get_by_name(name)
        return AsyncSandbox(id=status.id, resource=self._resource, status=status)

    async def list(
        self,
        *,
        start_time: str | None = None,
        end_time: str | None = None,
        search: str | None = None,
        tags: dict[str, str] | None = None,
        phase: builtins.list[SandboxesPhase] | None = None,
        image: str | None = None,
        include_filter_values: bool | None = None,
        page: int | None = None,
    ) -> builtins.list[AsyncSandbox]:
        """One page of sandboxes, each with its status; all ``tags`` must match."""
        response = await self._resource.list_sandboxes(
            start_time=start_time,
            end_time=end_time,
            search=search,
            tag=_tag_filter(tags),
            phase=phase,
            image=image,
            include_filter_values=include_filter_values,
            page=page,
        )
        return [
            AsyncSandbox(id=s.id, resource=self._resource, status=s) for s in response.sandboxes
        ]
