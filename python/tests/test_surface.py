"""The public surface: names, module paths, signatures, enums, errors, configuration."""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import pickle

import pytest

import porter_sandbox
from porter_sandbox import _errors
from porter_sandbox._config import (
    DEFAULT_TIMEOUT_SECONDS,
    EXTERNAL_BASE_URL_FORMAT,
    IN_CLUSTER_BASE_URL,
    Config,
)

EXPECTED_ALL = {
    "Porter", "AsyncPorter", "PorterSandboxApiClient", "AsyncPorterSandboxApiClient",
    "Sandboxes", "AsyncSandboxes", "Volumes", "AsyncVolumes", "Snapshots", "AsyncSnapshots",
    "Healthz", "AsyncHealthz", "Readyz", "AsyncReadyz",
    "Sandbox", "AsyncSandbox", "Volume", "AsyncVolume", "ObjectVolume", "AsyncObjectVolume",
    "VolumeFile", "BinaryContent", "ContentRange",
    "SandboxError", "AuthenticationError", "NotFoundError", "RateLimitError", "ServerError",
    "SandboxTimeoutError",
    "CountPoint", "CountResponse", "CreateResponse", "Error", "ExecRequest", "ExecResponse",
    "ExecTarget", "FilterValuesResponse", "HealthResponse", "ListResponse", "LogLine",
    "LogsResponse", "LookupResult", "MetricSummaryResponse", "Pagination", "ReadinessResponse",
    "SandboxDomainSpec", "SandboxEgressSpec", "SandboxMetricsPoint", "SandboxMetricsResponse",
    "SandboxMetricsResult", "SandboxMetricsSeries", "SandboxNetworkingSpec",
    "SandboxResourcesSpec", "SandboxSpec", "Snapshot", "SnapshotListResponse", "SnapshotSpec",
    "StatusResponse", "VolumeFileEntry", "VolumeFileListResponse", "VolumeFileMoveRequest",
    "VolumeListResponse", "VolumeObjectSpec", "VolumeSpec", "VolumeRecord",
    "FilterValuesResponsePhases", "LogLineLevel", "SandboxDomainSpecVisibility",
    "SandboxesPhase", "SandboxesSource", "SandboxMetric", "SnapshotMode", "SnapshotStatus",
    "StatusResponsePhase", "StatusResponseTerminationReason", "VolumeFileEntryType",
    "VolumeObjectSpecAccess", "VolumeObjectSpecMode", "VolumePhase", "VolumeSpecType",
    "VolumeType",
}  # fmt: skip

# The process extension of the local server, beyond the official package's 81 names.
EXPECTED_EXTENSIONS = {
    "Process", "AsyncProcess", "OutputChunk", "ProcessStatus", "ProcessState",
    "OutputStreamName", "UnsupportedError",
}  # fmt: skip


def test_all_has_exactly_the_81_names_and_the_extensions() -> None:
    assert len(EXPECTED_ALL) == 81
    assert len(porter_sandbox.__all__) == 81 + len(EXPECTED_EXTENSIONS)
    assert set(porter_sandbox.__all__) == EXPECTED_ALL | EXPECTED_EXTENSIONS
    for name in porter_sandbox.__all__:
        assert getattr(porter_sandbox, name) is not None


def test_ci_install_smoke_import() -> None:
    from porter_sandbox import AsyncSandbox, Sandbox

    assert Sandbox is not AsyncSandbox


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("porter_sandbox.porter", ["Porter", "AsyncPorter"]),
        ("porter_sandbox.sandboxes", ["Sandboxes", "AsyncSandboxes"]),
        ("porter_sandbox.volumes", ["Volumes", "AsyncVolumes"]),
        ("porter_sandbox.snapshots", ["Snapshots", "AsyncSnapshots"]),
        ("porter_sandbox.healthz", ["Healthz", "AsyncHealthz"]),
        ("porter_sandbox.readyz", ["Readyz", "AsyncReadyz"]),
        ("porter_sandbox.sandbox", ["Sandbox", "AsyncSandbox"]),
        ("porter_sandbox.process", ["Process", "AsyncProcess", "OutputChunk"]),
        (
            "porter_sandbox.volume",
            ["Volume", "ObjectVolume", "AsyncVolume", "AsyncObjectVolume", "VolumeFile",
             "DEFAULT_CHUNK_BYTES"],
        ),
        ("porter_sandbox._client", ["PorterSandboxApiClient", "AsyncPorterSandboxApiClient"]),
        (
            "porter_sandbox.resources",
            ["Sandboxes", "AsyncSandboxes", "Snapshots", "AsyncSnapshots", "Volumes",
             "AsyncVolumes", "Healthz", "AsyncHealthz", "Readyz", "AsyncReadyz"],
        ),
        ("porter_sandbox._models", ["Volume", "SandboxSpec", "StatusResponse", "Error"]),
        ("porter_sandbox.enums", ["StatusResponsePhase", "VolumeType", "ProcessState",
                                  "OutputStreamName"]),
        (
            "porter_sandbox._errors",
            ["SandboxError", "SandboxTimeoutError", "NotFoundError", "UnsupportedError",
             "error_for_status"],
        ),
        (
            "porter_sandbox._config",
            ["Config", "IN_CLUSTER_BASE_URL", "EXTERNAL_BASE_URL_FORMAT",
             "DEFAULT_TIMEOUT_SECONDS"],
        ),
        (
            "porter_sandbox._retries",
            ["DEFAULT_MAX_RETRIES", "INITIAL_BACKOFF_SECONDS", "MAX_BACKOFF_SECONDS",
             "should_retry", "backoff_delay"],
        ),
        ("porter_sandbox._binary", ["BinaryContent", "ContentRange", "BinaryBody"]),
        ("porter_sandbox._base_client", ["USER_AGENT", "MAX_REDIRECTS"]),
        ("porter_sandbox._async_base_client", ["USER_AGENT", "MAX_REDIRECTS"]),
    ],
)  # fmt: skip
def test_module_paths(module: str, names: list[str]) -> None:
    loaded = importlib.import_module(module)
    for name in names:
        assert hasattr(loaded, name), f"{module}.{name}"


def test_resources_are_distinct_from_namespaces() -> None:
    from porter_sandbox import resources

    assert resources.Sandboxes is not porter_sandbox.Sandboxes
    assert porter_sandbox._models.Volume is porter_sandbox.VolumeRecord
    assert porter_sandbox.Volume is not porter_sandbox.VolumeRecord


def params(func: object) -> list[tuple[str, str, object]]:
    signature = inspect.signature(func)  # type: ignore[arg-type]
    return [(p.name, p.kind.name, p.default) for p in signature.parameters.values()]


def test_signatures() -> None:
    from porter_sandbox import resources

    e = inspect.Parameter.empty
    for cls in (porter_sandbox.Porter, porter_sandbox.AsyncPorter,
                porter_sandbox.PorterSandboxApiClient, porter_sandbox.AsyncPorterSandboxApiClient):
        assert params(cls.__init__)[1:] == [
            ("api_key", "KEYWORD_ONLY", None), ("base_url", "KEYWORD_ONLY", None),
            ("timeout", "KEYWORD_ONLY", None),
        ]  # fmt: skip
    create = params(porter_sandbox.Sandboxes.create)
    assert create[1] == ("image", "POSITIONAL_OR_KEYWORD", e)
    assert [name for name, kind, _ in create[2:] if kind == "KEYWORD_ONLY"] == [
        "snapshot_id", "name", "tags", "command", "args", "env", "env_groups", "volume_mounts",
        "networking", "egress", "resources", "ttl_seconds", "lease_seconds",
    ]  # fmt: skip
    assert [n for n, k, _ in params(porter_sandbox.Sandboxes.list)[1:] if k == "KEYWORD_ONLY"] == [
        "start_time", "end_time", "search", "tags", "phase", "image", "include_filter_values",
        "page",
    ]  # fmt: skip
    assert params(porter_sandbox.Sandbox.logs)[1:] == [
        ("since", "KEYWORD_ONLY", None), ("limit", "KEYWORD_ONLY", None),
    ]  # fmt: skip
    assert params(resources.Sandboxes.get_sandbox_logs)[1:] == [
        ("id", "POSITIONAL_OR_KEYWORD", e), ("limit", "POSITIONAL_OR_KEYWORD", None),
        ("since", "POSITIONAL_OR_KEYWORD", None),
    ]  # fmt: skip
    assert [p[0] for p in params(resources.Volumes.write_volume_file)[1:]] == [
        "id", "body", "path", "timeout",
    ]  # fmt: skip
    assert [p[0] for p in params(resources.Sandboxes.get_sandbox_metrics)[1:]] == [
        "id", "metric", "start_time_utc", "end_time_utc",
    ]  # fmt: skip
    assert params(porter_sandbox.Volume.stream)[2] == ("chunk_size", "KEYWORD_ONLY", 8388608)
    assert params(porter_sandbox.Volume.search)[2] == ("path", "KEYWORD_ONLY", "/")
    assert inspect.isgeneratorfunction(porter_sandbox.Volume.iterdir)
    assert inspect.isgeneratorfunction(porter_sandbox.Volume.stream)
    assert inspect.isasyncgenfunction(porter_sandbox.AsyncVolume.iterdir)
    assert inspect.isasyncgenfunction(porter_sandbox.AsyncVolume.stream)
    assert inspect.iscoroutinefunction(porter_sandbox.AsyncPorter.aclose)
    assert not hasattr(porter_sandbox.AsyncPorter, "close")
    for name in ("refresh", "terminate", "logs", "exec", "start", "process", "processes"):
        assert inspect.iscoroutinefunction(getattr(porter_sandbox.AsyncSandbox, name))
    for name in ("write_stdin", "close_stdin", "wait", "poll", "status", "kill", "resize"):
        assert inspect.iscoroutinefunction(getattr(porter_sandbox.AsyncProcess, name))
        assert not inspect.iscoroutinefunction(getattr(porter_sandbox.Process, name))
    assert [n for n, k, _ in params(porter_sandbox.Sandbox.start)[2:] if k == "KEYWORD_ONLY"] == [
        "timeout", "workdir", "env", "stdin", "pty",
    ]  # fmt: skip
    assert params(porter_sandbox.AsyncSandbox.start) == params(porter_sandbox.Sandbox.start)
    assert params(porter_sandbox.Process.output)[1] == ("offset", "POSITIONAL_OR_KEYWORD", 0)
    assert params(porter_sandbox.Process.kill)[1] == ("signal", "POSITIONAL_OR_KEYWORD", "SIGKILL")
    assert params(porter_sandbox.Process.wait)[1] == ("timeout", "POSITIONAL_OR_KEYWORD", None)


def test_enums_are_str_enums() -> None:
    from porter_sandbox import SandboxesPhase, StatusResponsePhase, VolumeObjectSpecAccess

    phase = StatusResponsePhase.RUNNING
    assert isinstance(phase, str)
    assert phase == "running"
    assert phase.value == "running"
    assert phase.name == "RUNNING"
    assert str(phase) == "StatusResponsePhase.RUNNING"
    assert StatusResponsePhase("terminated") is StatusResponsePhase.TERMINATED
    assert [m.value for m in SandboxesPhase] == [
        "queued", "creating", "running", "succeeded", "failed", "terminated",
    ]  # fmt: skip
    assert VolumeObjectSpecAccess.WRITE_ONLY_NEW_FILES.value == "write_only_new_files"
    enums = [n for n in porter_sandbox.__all__ if isinstance(getattr(porter_sandbox, n), type)
             and issubclass(getattr(porter_sandbox, n), __import__("enum").Enum)]  # fmt: skip
    assert len(enums) == 16 + 2  # the official ones and the process extension's
    assert porter_sandbox.ProcessState.TIMED_OUT == "timed_out"
    assert [m.value for m in porter_sandbox.OutputStreamName] == ["stdout", "stderr"]
    for name in enums:
        for member in getattr(porter_sandbox, name):
            assert member.value == member.name.lower()


ERROR_CLASSES = [
    porter_sandbox.SandboxError,
    porter_sandbox.AuthenticationError,
    porter_sandbox.NotFoundError,
    porter_sandbox.RateLimitError,
    porter_sandbox.ServerError,
    porter_sandbox.SandboxTimeoutError,
    porter_sandbox.UnsupportedError,
]


@pytest.mark.parametrize("cls", ERROR_CLASSES)
def test_errors_pickle_and_carry_their_fields(cls: type[porter_sandbox.SandboxError]) -> None:
    error = cls("it failed", status_code=409, body={"error": "it failed"})
    assert isinstance(error, porter_sandbox.SandboxError)
    assert str(error) == "it failed"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert (copy.message, copy.status_code, copy.body) == ("it failed", 409, {"error": "it failed"})
    plain = pickle.loads(pickle.dumps(cls("no status")))
    assert (plain.message, plain.status_code, plain.body) == ("no status", None, None)


def test_error_for_status_mapping() -> None:
    cases = {401: "AuthenticationError", 404: "NotFoundError", 429: "RateLimitError",
             500: "ServerError", 503: "ServerError", 400: "SandboxError", 409: "SandboxError"}  # fmt: skip
    for status, name in cases.items():
        error = _errors.error_for_status(status, {"error": "x"}, "x")
        assert type(error).__name__ == name
        assert error.status_code == status and error.body == {"error": "x"}


def test_binary_content_types() -> None:
    from porter_sandbox._binary import ContentRange

    assert ContentRange.parse("bytes 0-9/100") == ContentRange(0, 9, 100)
    for bad in ("bytes 0-9/*", "bytes=0-9/100", "0-9/100", ""):
        assert ContentRange.parse(bad) is None
    with pytest.raises(AttributeError):
        ContentRange(0, 1, 2).start = 3  # type: ignore[misc]


def test_transport_constants() -> None:
    from porter_sandbox import _async_base_client, _base_client

    assert _base_client.USER_AGENT == f"porter-sandbox-python/{porter_sandbox.__version__}"
    assert _async_base_client.MAX_REDIRECTS == _base_client.MAX_REDIRECTS == 5


def test_retry_constants() -> None:
    from porter_sandbox import _retries

    assert _retries.DEFAULT_MAX_RETRIES == 3
    assert (_retries.INITIAL_BACKOFF_SECONDS, _retries.MAX_BACKOFF_SECONDS) == (0.5, 8.0)
    assert _retries.should_retry(429) and _retries.should_retry(503)
    assert not _retries.should_retry(404)
    assert all(0 <= _retries.backoff_delay(a) <= min(0.5 * 2**a, 8.0) for a in range(8))


# --- configuration (spec/README.md §11) -------------------------------------------------------------


def token(payload: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"header.{body}.signature"


def test_constants() -> None:
    assert IN_CLUSTER_BASE_URL == "http://sandbox-api.porter-sandbox-system.svc.cluster.local:8080"
    assert EXTERNAL_BASE_URL_FORMAT == (
        "https://dashboard.porter.run/api/v2/alpha/projects/{project_id}/clusters/{cluster_id}"
    )
    assert DEFAULT_TIMEOUT_SECONDS == 30.0
    assert porter_sandbox.volume.DEFAULT_CHUNK_BYTES == 8 * 1024 * 1024


@pytest.fixture(autouse=True)
def no_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    # Configuration tests must not find the test server's discovery file.
    monkeypatch.setenv("PORTER_SANDBOX_DISCOVERY_FILE", "none")


def test_config_in_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    config = Config.resolve()
    assert config == Config(api_key=None, base_url=IN_CLUSTER_BASE_URL, timeout=30.0)


def test_config_env_base_url_strips_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_BASE_URL", "https://sandbox.example/")
    assert Config.resolve().base_url == "https://sandbox.example"


def test_config_explicit_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_BASE_URL", "https://sandbox.example/")
    assert Config.resolve(base_url="https://sandbox.override/").base_url == (
        "https://sandbox.override"
    )


def test_config_porter_minted_token(monkeypatch: pytest.MonkeyPatch) -> None:
    key = token({"iat": "1783537707", "project_id": 1, "sub": "x", "sub_kind": "user",
                 "token_id": "t"})  # fmt: skip
    monkeypatch.setenv("PORTER_SANDBOX_API_KEY", key)
    monkeypatch.setenv("PORTER_CLUSTER_ID", "651")
    config = Config.resolve()
    assert config.base_url == "https://dashboard.porter.run/api/v2/alpha/projects/1/clusters/651"
    assert config.api_key == key


def test_config_cluster_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_API_KEY", token({"project_id": 123}))
    monkeypatch.setenv("PORTER_CLUSTER_ID", "456")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert Config.resolve().base_url.endswith("/projects/123/clusters/456")


def test_config_env_base_url_beats_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_BASE_URL", "https://sandbox.example")
    monkeypatch.setenv("PORTER_CLUSTER_ID", "456")
    assert Config.resolve().base_url == "https://sandbox.example"


def test_config_cluster_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_CLUSTER_ID", "456")
    with pytest.raises(ValueError, match="PORTER_SANDBOX_API_KEY"):
        Config.resolve()
    with pytest.raises(ValueError, match="PORTER_SANDBOX_API_KEY"):
        porter_sandbox.Porter()


def test_config_cluster_with_key_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_CLUSTER_ID", "456")
    config = Config.resolve(api_key=token({"project_id": 7}))
    assert config.base_url.endswith("/projects/7/clusters/456")


@pytest.mark.parametrize(
    "key",
    [
        "not-a-jwt",
        "one.two",
        token({"sub": "x"}),
        token({"project_id": "123"}),
        token({"project_id": 0}),
        token([1, 2, 3]),
        "header.!!!not-base64!!!.signature",
    ],
)
def test_config_malformed_keys(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("PORTER_CLUSTER_ID", "456")
    with pytest.raises(ValueError, match="project_id claim"):
        Config.resolve(api_key=key)


def test_config_key_without_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_API_KEY", token({"project_id": 1}))
    with pytest.raises(ValueError, match="PORTER_CLUSTER_ID is not"):
        Config.resolve()


def test_config_key_in_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_API_KEY", "anything")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert Config.resolve().base_url == IN_CLUSTER_BASE_URL


def test_config_nothing_set() -> None:
    with pytest.raises(ValueError, match="Could not determine the sandbox API base URL"):
        Config.resolve()
    for cls in (porter_sandbox.Porter, porter_sandbox.AsyncPorter,
                porter_sandbox.PorterSandboxApiClient, porter_sandbox.AsyncPorterSandboxApiClient):
        with pytest.raises(ValueError, match="Could not determine"):
            cls()


def test_config_timeout() -> None:
    assert Config.resolve(base_url="http://x", timeout=2.5).timeout == 2.5
    assert Config.resolve(base_url="http://x", timeout=None).timeout == 30.0
    with pytest.raises(ValueError):
        Config.resolve(base_url="http://x", timeout=-1)


def test_client_surface() -> None:
    porter = porter_sandbox.Porter(api_key="test", base_url="https://sandbox.example")
    assert isinstance(porter.volumes, porter_sandbox.Volumes)
    assert isinstance(porter.raw, porter_sandbox.PorterSandboxApiClient)
    assert porter.sandboxes.raw is porter.raw.sandboxes
    assert porter.volumes.raw is porter.raw.volumes
    porter.close()
