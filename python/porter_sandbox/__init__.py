"""Porter Sandbox client: create isolated sandboxes, run commands in them, read their logs, keep
files in volumes and capture snapshots — sync (:class:`Porter`) and async (:class:`AsyncPorter`).

A drop-in for the official ``porter-sandbox`` package, running on the project's Rust core.

>>> from porter_sandbox import Porter
>>> porter = Porter(base_url="http://127.0.0.1:8080")  # doctest: +SKIP
>>> sandbox = porter.sandboxes.create("host", command=["sleep", "60"])  # doctest: +SKIP
>>> sandbox.exec(["echo", "hi"]).stdout  # doctest: +SKIP
'hi\\n'
"""

from typing import TYPE_CHECKING, Any

from ._client import AsyncPorterSandboxApiClient, PorterSandboxApiClient
from ._errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    SandboxError,
    SandboxTimeoutError,
    ServerError,
    UnsupportedError,
)
from ._models import (
    CountPoint,
    CountResponse,
    CreateResponse,
    Error,
    ExecRequest,
    ExecResponse,
    ExecTarget,
    FilterValuesResponse,
    HealthResponse,
    ListResponse,
    LogLine,
    LogsResponse,
    LookupResult,
    MetricSummaryResponse,
    Pagination,
    ProcessStatus,
    ReadinessResponse,
    SandboxDomainSpec,
    SandboxEgressSpec,
    SandboxMetricsPoint,
    SandboxMetricsResponse,
    SandboxMetricsResult,
    SandboxMetricsSeries,
    SandboxNetworkingSpec,
    SandboxResourcesSpec,
    SandboxSpec,
    Snapshot,
    SnapshotListResponse,
    SnapshotSpec,
    StatusResponse,
    VolumeFileEntry,
    VolumeFileListResponse,
    VolumeFileMoveRequest,
    VolumeListResponse,
    VolumeObjectSpec,
    VolumeSpec,
)
from ._models import Volume as VolumeRecord
from ._native import __version__ as __version__
from .enums import (
    FilterValuesResponsePhases,
    LogLineLevel,
    OutputStreamName,
    ProcessState,
    SandboxDomainSpecVisibility,
    SandboxesPhase,
    SandboxesSource,
    SandboxMetric,
    SnapshotMode,
    SnapshotStatus,
    StatusResponsePhase,
    StatusResponseTerminationReason,
    VolumeFileEntryType,
    VolumeObjectSpecAccess,
    VolumeObjectSpecMode,
    VolumePhase,
    VolumeSpecType,
    VolumeType,
)
from .healthz import AsyncHealthz, Healthz
from .porter import AsyncPorter, Porter
from .process import AsyncProcess, OutputChunk, Process
from .readyz import AsyncReadyz, Readyz
from .sandbox import AsyncSandbox, Sandbox
from .sandboxes import AsyncSandboxes, Sandboxes
from .snapshots import AsyncSnapshots, Snapshots
from .volume import AsyncObjectVolume, AsyncVolume, ObjectVolume, Volume, VolumeFile
from .volumes import AsyncVolumes, Volumes

if TYPE_CHECKING:
    from ._binary import BinaryContent, ContentRange


def __getattr__(name: str) -> Any:
    # BinaryContent and ContentRange are dataclasses: ``dataclasses`` is imported on first use,
    # not with the package.
    if name in ("BinaryContent", "ContentRange"):
        from . import _binary

        return getattr(_binary, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    # clients
    "Porter",
    "AsyncPorter",
    "PorterSandboxApiClient",
    "AsyncPorterSandboxApiClient",
    # ergonomic namespaces
    "Sandboxes",
    "AsyncSandboxes",
    "Volumes",
    "AsyncVolumes",
    "Snapshots",
    "AsyncSnapshots",
    "Healthz",
    "AsyncHealthz",
    "Readyz",
    "AsyncReadyz",
    # handles
    "Sandbox",
    "AsyncSandbox",
    "Volume",
    "AsyncVolume",
    "ObjectVolume",
    "AsyncObjectVolume",
    "VolumeFile",
    # processes (an extension of the local server)
    "Process",
    "AsyncProcess",
    "OutputChunk",
    "ProcessStatus",
    "ProcessState",
    "OutputStreamName",
    "UnsupportedError",
    # binary content
    "BinaryContent",
    "ContentRange",
    # errors
    "SandboxError",
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "SandboxTimeoutError",
    # models
    "CountPoint",
    "CountResponse",
    "CreateResponse",
    "Error",
    "ExecRequest",
    "ExecResponse",
    "ExecTarget",
    "FilterValuesResponse",
    "HealthResponse",
    "ListResponse",
    "LogLine",
    "LogsResponse",
    "LookupResult",
    "MetricSummaryResponse",
    "Pagination",
    "ReadinessResponse",
    "SandboxDomainSpec",
    "SandboxEgressSpec",
    "SandboxMetricsPoint",
    "SandboxMetricsResponse",
    "SandboxMetricsResult",
    "SandboxMetricsSeries",
    "SandboxNetworkingSpec",
    "SandboxResourcesSpec",
    "SandboxSpec",
    "Snapshot",
    "SnapshotListResponse",
    "SnapshotSpec",
    "StatusResponse",
    "VolumeFileEntry",
    "VolumeFileListResponse",
    "VolumeFileMoveRequest",
    "VolumeListResponse",
    "VolumeObjectSpec",
    "VolumeSpec",
    "VolumeRecord",
    # enums
    "FilterValuesResponsePhases",
    "LogLineLevel",
    "SandboxDomainSpecVisibility",
    "SandboxesPhase",
    "SandboxesSource",
    "SandboxMetric",
    "SnapshotMode",
    "SnapshotStatus",
    "StatusResponsePhase",
    "StatusResponseTerminationReason",
    "VolumeFileEntryType",
    "VolumeObjectSpecAccess",
    "VolumeObjectSpecMode",
    "VolumePhase",
    "VolumeSpecType",
    "VolumeType",
]
