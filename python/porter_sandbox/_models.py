"""The wire models of the Porter Sandbox API.

Each model is a plain class with one attribute per wire field: construct it with keyword
arguments, compare it with ``==``, and convert it with ``model_dump()`` / ``model_dump_json()`` /
``model_validate()`` as with pydantic models (there is no pydantic dependency). Optional fields
default to ``None``; timestamps stay strings. Two models have attribute names that differ from
their wire names: ``VolumeFileMoveRequest.from_`` (wire ``from``) and the percentile fields of
``MetricSummaryResponse`` (``cpu_cores_p_50`` ↔ ``cpu_cores_p50``…); both names are accepted.

Responses decoded by the Rust core are already validated there; they are turned into models
without being validated again.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from .enums import (
    FilterValuesResponsePhases,
    LogLineLevel,
    ProcessState,
    SandboxDomainSpecVisibility,
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

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform
else:
    # Only type checkers need the transform (it gives every model a keyword ``__init__``).
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda cls: cls

__all__ = [
    "BaseModel",
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
    "ProcessStatus",
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
    "ValidationError",
    "Volume",
    "VolumeFileEntry",
    "VolumeFileListResponse",
    "VolumeFileMoveRequest",
    "VolumeListResponse",
    "VolumeObjectSpec",
    "VolumeSpec",
]

_M = TypeVar("_M", bound="BaseModel")


class ValidationError(ValueError):
    """A value does not fit a model: a required field is missing, or a field has the wrong type."""

    def __init__(self, title: str, errors: list[tuple[str, str]]) -> None:
        self.title = title
        self._errors = errors
        lines = [f"{len(errors)} validation error{'s' if len(errors) != 1 else ''} for {title}"]
        for location, message in errors:
            lines.append(location)
            lines.append(f"  {message}")
        super().__init__("\n".join(lines))

    def errors(self) -> list[dict[str, str]]:
        """One ``{"loc", "msg"}`` dict per problem."""
        return [{"loc": loc, "msg": msg} for loc, msg in self._errors]


class _Invalid(Exception):
    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


_Check = Callable[[Any, str], Any]
_Convert = Callable[[Any], Any]


class _Field:
    """One model field: attribute name, wire name, whether it is required, and how to check,
    convert and dump its values."""

    __slots__ = ("name", "alias", "required", "check", "from_wire")

    def __init__(
        self,
        name: str,
        alias: str,
        required: bool,
        check: _Check,
        from_wire: _Convert | None,
    ) -> None:
        self.name = name
        self.alias = alias
        self.required = required
        self.check = check
        self.from_wire = from_wire

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, alias={self.alias!r}, required={self.required})"


def _type_name(value: object) -> str:
    return type(value).__name__


def _checker(hint: Any) -> tuple[_Check, _Convert | None]:
    """How to validate a (non-``None``) value of type ``hint``, and how to turn its already
    validated wire form into the attribute value (``None``: as is)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is str:

        def check_str(value: Any, loc: str) -> Any:
            if isinstance(value, str):
                return value
            raise _Invalid(loc, f"Input should be a valid string, not {_type_name(value)}")

        return check_str, None
    if hint is bool:

        def check_bool(value: Any, loc: str) -> Any:
            if isinstance(value, bool):
                return value
            raise _Invalid(loc, f"Input should be a valid boolean, not {_type_name(value)}")

        return check_bool, None
    if hint is int:

        def check_int(value: Any, loc: str) -> Any:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise _Invalid(loc, f"Input should be a valid integer, not {value!r}")

        return check_int, None
    if hint is float:

        def check_float(value: Any, loc: str) -> Any:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise _Invalid(loc, f"Input should be a valid number, not {_type_name(value)}")

        def float_from_wire(value: Any) -> Any:
            return float(value)

        return check_float, float_from_wire
    if isinstance(hint, type) and issubclass(hint, Enum):
        members: dict[Any, Any] = dict(hint._value2member_map_)
        enum_cls = hint

        def check_enum(value: Any, loc: str) -> Any:
            if isinstance(value, enum_cls):
                return value
            member = members.get(value) if isinstance(value, str) else None
            if member is None:
                allowed = ", ".join(repr(v) for v in members)
                raise _Invalid(loc, f"Input should be {allowed}, not {value!r}")
            return member

        def enum_from_wire(value: Any) -> Any:
            # A value this version does not know (from a newer server) is kept as a string.
            return members.get(value, value)

        return check_enum, enum_from_wire
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        model = hint

        def check_model(value: Any, loc: str) -> Any:
            if isinstance(value, model):
                return value
            if isinstance(value, Mapping):
                return model._validate(value, loc + ".")
            raise _Invalid(loc, f"Input should be a {model.__name__} or a dict")

        return check_model, model._from_wire
    if origin is list:
        item_check, item_convert = _checker(args[0])

        def check_list(value: Any, loc: str) -> Any:
            if not isinstance(value, (list, tuple)):
                raise _Invalid(loc, f"Input should be a valid list, not {_type_name(value)}")
            return [item_check(item, f"{loc}.{i}") for i, item in enumerate(value)]

        if item_convert is None:
            return check_list, None
        convert = item_convert

        def list_from_wire(value: Any) -> Any:
            return [convert(item) for item in value]

        return check_list, list_from_wire
    if origin is dict:

        def check_dict(value: Any, loc: str) -> Any:
            if not isinstance(value, Mapping):
                raise _Invalid(loc, f"Input should be a valid dictionary, not {_type_name(value)}")
            out: dict[str, str] = {}
            for key, item in value.items():
                if not isinstance(key, str) or not isinstance(item, str):
                    raise _Invalid(f"{loc}.{key}", "Keys and values should be strings")
                out[key] = item
            return out

        return check_dict, None
    raise TypeError(f"unsupported model field type {hint!r}")  # pragma: no cover


def _field_list(cls: type[BaseModel]) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    aliases = cls.__aliases__
    fields = []
    for name in cls.__annotations__:
        if name.startswith("_"):
            continue
        hint = hints[name]
        if typing.get_origin(hint) is ClassVar:
            continue
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(members) != len(typing.get_args(hint))
            hint = members[0]
        check, from_wire = _checker(hint)
        required = not optional and name not in cls.__dict__
        fields.append(_Field(name, aliases.get(name, name), required, check, from_wire))
    return tuple(fields)


def _dump(value: Any, mode: str, by_alias: bool, exclude_none: bool) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode=mode, by_alias=by_alias, exclude_none=exclude_none)
    if isinstance(value, Enum):
        return value.value if mode == "json" else value
    if isinstance(value, list):
        return [_dump(item, mode, by_alias, exclude_none) for item in value]
    if isinstance(value, dict):
        return {k: _dump(v, mode, by_alias, exclude_none) for k, v in value.items()}
    return value


@dataclass_transform(kw_only_default=True)
class BaseModel:
    """Base of every wire model: keyword construction (validated), attribute access, ``==``,
    ``repr``, and the pydantic-style conversion methods."""

    __aliases__: ClassVar[dict[str, str]] = {}
    __fields: ClassVar[tuple[_Field, ...] | None] = None

    def __init__(self, **data: Any) -> None:
        self.__dict__.update(type(self)._checked(data, ""))

    # -- field tables ---------------------------------------------------------------------

    @classmethod
    def _fields(cls) -> tuple[_Field, ...]:
        fields = cls.__dict__.get("_BaseModel__fields")
        if fields is None:
            fields = _field_list(cls)
            cls.__fields = fields
        return fields

    @classmethod
    def _checked(cls, data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for field in cls._fields():
            if field.alias in data:
                value = data[field.alias]
            elif field.name in data:
                value = data[field.name]
            else:
                if field.required:
                    problems.append((prefix + field.alias, "Field required"))
                values[field.name] = None
                continue
            if value is None:
                if field.required:
                    problems.append((prefix + field.alias, "Input should not be None"))
                values[field.name] = None
                continue
            try:
                values[field.name] = field.check(value, prefix + field.alias)
            except _Invalid as invalid:
                problems.append((invalid.location, invalid.message))
            except ValidationError as nested:
                problems.extend((e["loc"], e["msg"]) for e in nested.errors())
        if problems:
            raise ValidationError(cls.__name__, problems)
        return values

    @classmethod
    def _validate(cls, data: Mapping[str, Any], prefix: str) -> Self:
        model = cls.__new__(cls)
        model.__dict__.update(cls._checked(data, prefix))
        return model

    @classmethod
    def _from_wire(cls, data: Mapping[str, Any]) -> Self:
        """A model from wire JSON that the core already validated (no checks)."""
        model = cls.__new__(cls)
        values = model.__dict__
        for field in cls._fields():
            value = data.get(field.alias)
            if value is not None and field.from_wire is not None:
                value = field.from_wire(value)
            values[field.name] = value
        return model

    # -- pydantic-style API ---------------------------------------------------------------

    @classmethod
    def model_validate(cls, obj: Any) -> Self:
        """The model for ``obj`` (a dict of wire or attribute names, or a model), validated."""
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, BaseModel):
            obj = obj.model_dump(by_alias=True)
        if not isinstance(obj, Mapping):
            raise ValidationError(cls.__name__, [("", f"Input should be a dict, not {_type_name(obj)}")])
        return cls._validate(obj, "")

    @classmethod
    def model_validate_json(cls, json_data: str | bytes) -> Self:
        """The model for a JSON document, validated."""
        return cls.model_validate(json.loads(json_data))

    @classmethod
    def model_field_names(cls) -> list[str]:
        """The attribute names, in wire order."""
        return [field.name for field in cls._fields()]

    def model_dump(
        self,
        *,
        mode: Literal["python", "json"] | str = "python",
        by_alias: bool = False,
        exclude_none: bool = False,
    ) -> dict[str, Any]:
        """The fields as a dict: by attribute name, or by wire name with ``by_alias=True``;
        ``None`` fields left out with ``exclude_none=True``; enums as values with
        ``mode="json"``."""
        out: dict[str, Any] = {}
        values = self.__dict__
        for field in type(self)._fields():
            value = values.get(field.name)
            if value is None:
                if exclude_none:
                    continue
            elif not isinstance(value, (str, int, float)) or isinstance(value, Enum):
                value = _dump(value, mode, by_alias, exclude_none)
            out[field.alias if by_alias else field.name] = value
        return out

    def model_dump_json(
        self, *, indent: int | None = None, by_alias: bool = False, exclude_none: bool = False
    ) -> str:
        """The fields as a JSON document (compact unless ``indent`` is given)."""
        data = self.model_dump(mode="json", by_alias=by_alias, exclude_none=exclude_none)
        if indent is None:
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return json.dumps(data, indent=indent, ensure_ascii=False)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, with the attributes of ``update`` replaced (not validated)."""
        import copy

        clone = copy.deepcopy(self) if deep else copy.copy(self)
        if update:
            clone.__dict__.update(update)
        return clone

    # -- object protocol --------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter([(f.name, self.__dict__.get(f.name)) for f in type(self)._fields()])

    def __repr_args(self) -> str:
        return ", ".join(f"{f.name}={self.__dict__.get(f.name)!r}" for f in type(self)._fields())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__repr_args()})"

    def __str__(self) -> str:
        return " ".join(f"{f.name}={self.__dict__.get(f.name)!r}" for f in type(self)._fields())


# --- sandboxes -------------------------------------------------------------------------------


class CountPoint(BaseModel):
    """Sandboxes created in one time bucket."""

    timestamp: str
    count: int


class CountResponse(BaseModel):
    """Sandboxes created per time bucket."""

    points: list[CountPoint]
    granularity_ms: int


class CreateResponse(BaseModel):
    """The id and name of a sandbox just created."""

    id: str
    name: str
    volume_mounts: dict[str, str] | None = None


class Error(BaseModel):
    """The body of an error response."""

    error: str


class ExecRequest(BaseModel):
    """A command to run in a sandbox (an argv; no shell)."""

    command: list[str]


class ExecResponse(BaseModel):
    """What an exec printed and its exit code."""

    stdout: str
    stderr: str
    exit_code: int
    exec_id: str | None = None
    #: Extension of the local server: ``True`` when the exec's ``timeout`` ran out and its
    #: processes were killed (exit code 124); ``False`` from ``Sandbox.exec``, ``None`` when the
    #: server did not say.
    timed_out: bool | None = None
    #: Extension of the local server: ``True`` when it cut ``stdout`` or ``stderr`` at its
    #: per-stream output limit (the beginning is kept); ``None`` otherwise.
    truncated: bool | None = None


class ProcessStatus(BaseModel):
    """The status of a process started with ``Sandbox.start`` (extension of the local server).
    Timestamps are RFC 3339 strings; offsets count bytes of the combined output."""

    exec_id: str
    sandbox_id: str
    command: list[str]
    state: ProcessState
    #: 128 + the signal when killed by one, 124 at its deadline; ``None`` while it runs.
    exit_code: int | None = None
    #: The signal that ended it (``"SIGKILL"``…), when one did.
    signal: str | None = None
    timed_out: bool
    pty: bool
    stdin_open: bool
    started_at: str
    ended_at: str | None = None
    stdout_bytes: int
    stderr_bytes: int
    #: Offset of the first byte still kept (older output was dropped at the retention limit).
    output_start: int
    #: Offset just past the last byte written.
    output_end: int


class ExecTarget(BaseModel):
    """Where a sandbox's commands run."""

    namespace: str
    pod_name: str
    container_name: str


class FilterValuesResponse(BaseModel):
    """The values the sandbox list can be filtered by."""

    tags: list[str]
    images: list[str]
    phases: list[FilterValuesResponsePhases]


class HealthResponse(BaseModel):
    """The service's health."""

    status: str


class LogLine(BaseModel):
    """One line of a sandbox's output."""

    timestamp: str
    line: str
    level: LogLineLevel
    exec_id: str


class LogsResponse(BaseModel):
    """A sandbox's log lines."""

    sandbox_id: str
    logs: list[LogLine]


class LookupResult(BaseModel):
    """The id a name resolves to."""

    id: str


class MetricSummaryResponse(BaseModel):
    """Percentiles of a sandbox's CPU and memory use over a window."""

    __aliases__: ClassVar[dict[str, str]] = {
        "cpu_cores_p_50": "cpu_cores_p50",
        "cpu_cores_p_90": "cpu_cores_p90",
        "cpu_util_p_50_pct": "cpu_util_p50_pct",
        "cpu_util_p_90_pct": "cpu_util_p90_pct",
        "mem_bytes_p_50": "mem_bytes_p50",
        "mem_bytes_p_90": "mem_bytes_p90",
        "mem_util_p_50_pct": "mem_util_p50_pct",
        "mem_util_p_90_pct": "mem_util_p90_pct",
    }

    window_seconds: int
    has_data: bool
    cpu_cores_p_50: float
    cpu_cores_p_90: float
    cpu_limit_cores: float
    cpu_util_p_50_pct: float
    cpu_util_p_90_pct: float
    mem_bytes_p_50: int
    mem_bytes_p_90: int
    mem_limit_bytes: int
    mem_util_p_50_pct: float
    mem_util_p_90_pct: float


class Pagination(BaseModel):
    """Where a page is in the whole list."""

    current_page: int
    total_pages: int
    has_next_page: bool


class ReadinessResponse(BaseModel):
    """Readiness and the number of active sandboxes."""

    status: str
    active_sandboxes: int


class SandboxDomainSpec(BaseModel):
    """A domain routed to a sandbox port."""

    domain: str | None = None
    visibility: SandboxDomainSpecVisibility | None = None


class SandboxEgressSpec(BaseModel):
    """Where a sandbox may connect to."""

    allowed_destinations: list[str]


class SandboxMetricsPoint(BaseModel):
    """One sample of a metric series."""

    timestamp_utc: str
    value: float


class SandboxMetricsSeries(BaseModel):
    """One metric series."""

    labels: dict[str, str] | None = None
    unit: str | None = None
    time_series: list[SandboxMetricsPoint]


class SandboxMetricsResult(BaseModel):
    """The series of one metric query."""

    series: list[SandboxMetricsSeries]


class SandboxMetricsResponse(BaseModel):
    """A metric's time series."""

    results: list[SandboxMetricsResult]


class SandboxNetworkingSpec(BaseModel):
    """A sandbox port to expose."""

    port: int
    domains: list[SandboxDomainSpec] | None = None
    internal: bool | None = None


class SandboxResourcesSpec(BaseModel):
    """CPU and memory for a sandbox."""

    cpu: str | None = None
    memory: str | None = None


class SandboxSpec(BaseModel):
    """What to run: the body of a sandbox creation."""

    image: str
    snapshot_id: str | None = None
    name: str | None = None
    tags: dict[str, str] | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    env_groups: list[str] | None = None
    volume_mounts: dict[str, str] | None = None
    networking: list[SandboxNetworkingSpec] | None = None
    egress: SandboxEgressSpec | None = None
    resources: SandboxResourcesSpec | None = None
    ttl_seconds: int | None = None
    lease_seconds: int | None = None


class StatusResponse(BaseModel):
    """A sandbox's status."""

    id: str
    name: str
    image: str
    tags: dict[str, str] | None = None
    phase: StatusResponsePhase
    exit_code: int | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    termination_reason: StatusResponseTerminationReason | None = None
    host: str
    internal_address: str | None = None
    volume_mounts: dict[str, str] | None = None
    exec_target: ExecTarget | None = None
    #: Extension of the local server: the image that actually runs when it differs from
    #: ``image`` (the server substituted ``host`` for an unreachable registry image).
    runs_image: str | None = None


class ListResponse(BaseModel):
    """One page of sandboxes."""

    sandboxes: list[StatusResponse]
    pagination: Pagination
    filter_values: FilterValuesResponse | None = None


# --- snapshots -------------------------------------------------------------------------------


class Snapshot(BaseModel):
    """A snapshot of a sandbox and its capture status."""

    id: str
    sandbox_id: str
    mode: SnapshotMode
    status: SnapshotStatus
    t_created_unix_ms: int | None = None
    t_ready_unix_ms: int | None = None
    failure_reason: str | None = None
    size_bytes: int | None = None


class SnapshotListResponse(BaseModel):
    """Snapshots, newest first."""

    snapshots: list[Snapshot]


class SnapshotSpec(BaseModel):
    """How to capture a snapshot."""

    mode: SnapshotMode | None = None


# --- volumes ---------------------------------------------------------------------------------


class VolumeObjectSpec(BaseModel):
    """The bucket behind an object volume."""

    bucket: str
    prefix: str | None = None
    access: VolumeObjectSpecAccess | None = None
    mode: VolumeObjectSpecMode | None = None


class Volume(BaseModel):
    """A volume record (exported as ``VolumeRecord``)."""

    id: str
    name: str
    type: VolumeType
    object: VolumeObjectSpec | None = None
    path: str
    phase: VolumePhase
    attached_to: list[str]
    created_at: str


class VolumeSpec(BaseModel):
    """The body of a volume creation."""

    name: str | None = None
    type: VolumeSpecType | None = None
    object: VolumeObjectSpec | None = None


class VolumeListResponse(BaseModel):
    """Every volume."""

    volumes: list[Volume]


class VolumeFileEntry(BaseModel):
    """A file or directory in a volume listing."""

    name: str
    type: VolumeFileEntryType
    size_bytes: int
    modified_at: str | None = None
    truncated: bool | None = None
    entries: list[VolumeFileEntry] | None = None


class VolumeFileListResponse(BaseModel):
    """A volume directory listing."""

    path: str
    entries: list[VolumeFileEntry]
    truncated: bool


class VolumeFileMoveRequest(BaseModel):
    """A move of a volume file (``from_`` is the wire's ``from``)."""

    __aliases__: ClassVar[dict[str, str]] = {"from_": "from"}

    from_: str
    to: str
