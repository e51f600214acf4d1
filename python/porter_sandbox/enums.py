"""The 16 string enums of the Porter Sandbox API.

Members are ``str`` instances equal to their wire values (``phase == "running"``); ``.value`` is
the wire value and ``str(member)`` is ``ClassName.MEMBER``.
"""

from enum import Enum

__all__ = [
    "FilterValuesResponsePhases",
    "LogLineLevel",
    "SandboxDomainSpecVisibility",
    "SandboxMetric",
    "SandboxesPhase",
    "SandboxesSource",
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


class FilterValuesResponsePhases(str, Enum):
    """A sandbox phase offered as a list filter."""

    QUEUED = "queued"
    CREATING = "creating"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TERMINATED = "terminated"


class LogLineLevel(str, Enum):
    """The level of a log line."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class SandboxDomainSpecVisibility(str, Enum):
    """Who can reach a sandbox domain."""

    PUBLIC = "public"
    PRIVATE = "private"


class SandboxesPhase(str, Enum):
    """A sandbox phase, as a list or count filter."""

    QUEUED = "queued"
    CREATING = "creating"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TERMINATED = "terminated"


class SandboxesSource(str, Enum):
    """Who asked for a termination."""

    DASHBOARD = "dashboard"
    CLI = "cli"


class SandboxMetric(str, Enum):
    """A sandbox metric series."""

    CPU_USAGE = "cpu_usage"
    CPU_RESERVED = "cpu_reserved"
    MEMORY_USAGE = "memory_usage"
    MEMORY_RESERVED = "memory_reserved"
    NETWORK_RX = "network_rx"
    NETWORK_TX = "network_tx"


class SnapshotMode(str, Enum):
    """What a snapshot captures."""

    FILESYSTEM = "filesystem"
    FULL = "full"


class SnapshotStatus(str, Enum):
    """Where a snapshot's capture is."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class StatusResponsePhase(str, Enum):
    """The lifecycle phase of a sandbox."""

    QUEUED = "queued"
    CREATING = "creating"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TERMINATED = "terminated"


class StatusResponseTerminationReason(str, Enum):
    """Why a sandbox stopped."""

    DASHBOARD = "dashboard"
    CLI = "cli"
    SDK = "sdk"
    TTL_EXPIRED = "ttl_expired"
    WORKLOAD_EXITED = "workload_exited"
    BACKEND_LOST = "backend_lost"
    LAUNCH_FAILED = "launch_failed"
    USER_TERMINATED = "user_terminated"


class VolumeFileEntryType(str, Enum):
    """A listed volume entry: file or directory."""

    FILE = "file"
    DIRECTORY = "directory"


class VolumeObjectSpecAccess(str, Enum):
    """What sandboxes may do with an object volume."""

    READ_WRITE = "read_write"
    READ_ONLY = "read_only"
    WRITE_ONLY_NEW_FILES = "write_only_new_files"


class VolumeObjectSpecMode(str, Enum):
    """How an object volume is mounted."""

    OBJECT = "object"
    FILESYSTEM = "filesystem"


class VolumePhase(str, Enum):
    """The lifecycle phase of a volume."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class VolumeSpecType(str, Enum):
    """The kind of volume to create."""

    DISK = "disk"
    OBJECT = "object"


class VolumeType(str, Enum):
    """The kind of a volume."""

    DISK = "disk"
    OBJECT = "object"
