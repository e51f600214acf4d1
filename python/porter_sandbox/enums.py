"""The 16 string enums of the Porter Sandbox API, and the 2 of the local server's process
extension (:class:`ProcessState`, :class:`OutputStreamName`).

Members are ``str`` instances equal to their wire values (``phase == "running"``); ``.value`` is
the wire value and ``str(member)`` is ``ClassName.MEMBER``.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "FilterValuesResponsePhases",
    "LogLineLevel",
    "OutputStreamName",
    "ProcessState",
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


class _StrEnum(str, Enum):
    """A ``str`` enum of wire values."""

    if TYPE_CHECKING:
        # What calling the class does at run time: look a member up by its value.
        def __new__(cls, value: object) -> Self: ...


class FilterValuesResponsePhases(_StrEnum):
    """A sandbox phase offered as a list filter."""

    QUEUED = "queued"
    CREATING = "creating"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TERMINATED = "terminated"


class LogLineLevel(_StrEnum):
    """The level of a log line."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class OutputStreamName(_StrEnum):
    """Which stream a chunk of process output came from (a terminal has only ``stdout``).
    Extension of the local server."""

    STDOUT = "stdout"
    STDERR = "stderr"


class ProcessState(_StrEnum):
    """The state of a process started with ``Sandbox.start``. Extension of the local server."""

    RUNNING = "running"
    EXITED = "exited"
    KILLED = "killed"
    TIMED_OUT = "timed_out"


class SandboxDomainSpecVisibility(_StrEnum):
    """Who can reach a sandbox domain."""

    PUBLIC = "public"
    PRIVATE = "private"


class SandboxesPhase(_StrEnum):
    """A sandbox phase, as a list or count filter."""

    QUEUED = "queued"
    CREATING = "creating"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TERMINATED = "terminated"


class SandboxesSource(_StrEnum):
    """Who asked for a termination."""

    DASHBOARD = "dashboard"
    CLI = "cli"


class SandboxMetric(_StrEnum):
    """A sandbox metric series."""

    CPU_USAGE = "cpu_usage"
    CPU_RESERVED = "cpu_reserved"
    MEMORY_USAGE = "memory_usage"
    MEMORY_RESERVED = "memory_reserved"
    NETWORK_RX = "network_rx"
    NETWORK_TX = "network_tx"


class SnapshotMode(_StrEnum):
    """What a snapshot captures."""

    FILESYSTEM = "filesystem"
    FULL = "full"


class SnapshotStatus(_StrEnum):
    """Where a snapshot's capture is."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class StatusResponsePhase(_StrEnum):
    """The lifecycle phase of a sandbox."""

    QUEUED = "queued"
    CREATING = "creating"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TERMINATED = "terminated"


class StatusResponseTerminationReason(_StrEnum):
    """Why a sandbox stopped."""

    DASHBOARD = "dashboard"
    CLI = "cli"
    SDK = "sdk"
    TTL_EXPIRED = "ttl_expired"
    WORKLOAD_EXITED = "workload_exited"
    BACKEND_LOST = "backend_lost"
    LAUNCH_FAILED = "launch_failed"
    USER_TERMINATED = "user_terminated"
    LEASE_EXPIRED = "lease_expired"


class VolumeFileEntryType(_StrEnum):
    """A listed volume entry: file or directory."""

    FILE = "file"
    DIRECTORY = "directory"


class VolumeObjectSpecAccess(_StrEnum):
    """What sandboxes may do with an object volume."""

    READ_WRITE = "read_write"
    READ_ONLY = "read_only"
    WRITE_ONLY_NEW_FILES = "write_only_new_files"


class VolumeObjectSpecMode(_StrEnum):
    """How an object volume is mounted."""

    OBJECT = "object"
    FILESYSTEM = "filesystem"


class VolumePhase(_StrEnum):
    """The lifecycle phase of a volume."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class VolumeSpecType(_StrEnum):
    """The kind of volume to create."""

    DISK = "disk"
    OBJECT = "object"


class VolumeType(_StrEnum):
    """The kind of a volume."""

    DISK = "disk"
    OBJECT = "object"
