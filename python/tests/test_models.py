"""Models: construction, validation, aliases, dumps and round trips (spec/README.md §11)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import porter_sandbox as ps
from porter_sandbox._models import BaseModel, ValidationError

# The required-field sets of the official repository's round-trip tests.
ROUND_TRIPS: list[BaseModel] = [
    ps.CountPoint(timestamp="2024-01-01T00:00:00Z", count=3),
    ps.CountResponse(points=[ps.CountPoint(timestamp="t", count=1)], granularity_ms=60000),
    ps.CreateResponse(id="sb-1", name="sb-1"),
    ps.Error(error="nope"),
    ps.ExecRequest(command=["echo", "hi"]),
    ps.ExecResponse(stdout="hi\n", stderr="", exit_code=0),
    ps.ExecTarget(namespace="ns", pod_name="pod", container_name="c"),
    ps.FilterValuesResponse(tags=["a=b"], images=["host"], phases=[ps.FilterValuesResponsePhases.RUNNING]),
    ps.HealthResponse(status="ok"),
    ps.LogsResponse(sandbox_id="sb-1", logs=[]),
    ps.LookupResult(id="sb-1"),
    ps.Pagination(current_page=1, total_pages=1, has_next_page=False),
    ps.ReadinessResponse(status="ready", active_sandboxes=2),
    ps.SandboxDomainSpec(),
    ps.SandboxEgressSpec(allowed_destinations=["example.com"]),
    ps.SandboxNetworkingSpec(port=8080),
    ps.SandboxSpec(image="host"),
    ps.VolumeFileListResponse(path="/", entries=[], truncated=False),
    ps.VolumeFileMoveRequest(from_="x", to="x"),
    ps.VolumeListResponse(volumes=[]),
    ps.VolumeSpec(),
]  # fmt: skip


@pytest.mark.parametrize("model", ROUND_TRIPS, ids=lambda m: type(m).__name__)
def test_round_trip(model: BaseModel) -> None:
    dumped = model.model_dump(by_alias=True, exclude_none=True)
    again = type(model).model_validate(dumped)
    assert again == model
    assert again.model_dump(by_alias=True, exclude_none=True) == dumped
    assert type(model).model_validate_json(model.model_dump_json(by_alias=True)) == model


def test_move_request_alias() -> None:
    move = ps.VolumeFileMoveRequest(from_="/a", to="/b")
    assert move.from_ == "/a"
    assert move.model_dump(by_alias=True) == {"from": "/a", "to": "/b"}
    assert move.model_dump() == {"from_": "/a", "to": "/b"}
    assert ps.VolumeFileMoveRequest.model_validate({"from": "/a", "to": "/b"}) == move
    assert ps.VolumeFileMoveRequest(**{"from": "/a", "to": "/b"}) == move


def test_metric_summary_aliases() -> None:
    wire: dict[str, Any] = {
        "window_seconds": 60, "has_data": True, "cpu_cores_p50": 1, "cpu_cores_p90": 2.5,
        "cpu_limit_cores": 4, "cpu_util_p50_pct": 10, "cpu_util_p90_pct": 20.5,
        "mem_bytes_p50": 100, "mem_bytes_p90": 200, "mem_limit_bytes": 1000,
        "mem_util_p50_pct": 10, "mem_util_p90_pct": 20,
    }  # fmt: skip
    summary = ps.MetricSummaryResponse.model_validate(wire)
    assert summary.cpu_cores_p_50 == 1.0 and isinstance(summary.cpu_cores_p_50, float)
    assert summary.mem_bytes_p_90 == 200
    assert summary.model_dump(by_alias=True)["cpu_util_p90_pct"] == 20.5
    assert "cpu_cores_p_50" in summary.model_dump()
    by_name = ps.MetricSummaryResponse(**summary.model_dump())
    assert by_name == summary


def test_nested_models_and_enums() -> None:
    spec = ps.SandboxSpec(
        image="host",
        tags={"team": "a"},
        networking=[{"port": 80, "domains": [{"visibility": "public"}]}],  # type: ignore[list-item]
        egress=ps.SandboxEgressSpec(allowed_destinations=["x"]),
    )
    assert isinstance(spec.networking, list)
    assert isinstance(spec.networking[0], ps.SandboxNetworkingSpec)
    domains = spec.networking[0].domains
    assert domains is not None and domains[0].visibility is ps.SandboxDomainSpecVisibility.PUBLIC
    assert spec.model_dump(mode="json", exclude_none=True) == {
        "image": "host", "tags": {"team": "a"},
        "networking": [{"port": 80, "domains": [{"visibility": "public"}]}],
        "egress": {"allowed_destinations": ["x"]},
    }  # fmt: skip
    assert spec.model_dump()["networking"][0]["domains"][0]["visibility"] is (
        ps.SandboxDomainSpecVisibility.PUBLIC
    )
    assert json.loads(spec.model_dump_json())["ttl_seconds"] is None


def test_validation_errors() -> None:
    with pytest.raises(ValidationError, match="image"):
        ps.SandboxSpec()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="Field required"):
        ps.StatusResponse.model_validate({"id": "x"})
    with pytest.raises(ValueError, match="valid string"):
        ps.SandboxSpec(image=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ps.LogLine.model_validate({"timestamp": "t", "line": "l", "level": "loud", "exec_id": "e"})
    with pytest.raises(ValueError):
        ps.ExecResponse.model_validate({"stdout": "", "stderr": "", "exit_code": None})
    # Unknown fields are ignored.
    assert ps.LookupResult.model_validate({"id": "x", "extra": 1}) == ps.LookupResult(id="x")


def test_repr_eq_and_defaults() -> None:
    response = ps.ExecResponse(stdout="a", stderr="b", exit_code=1)
    assert repr(response) == (
        "ExecResponse(stdout='a', stderr='b', exit_code=1, exec_id=None, timed_out=None, "
        "truncated=None)"
    )
    assert str(response) == (
        "stdout='a' stderr='b' exit_code=1 exec_id=None timed_out=None truncated=None"
    )
    assert response == ps.ExecResponse(stdout="a", stderr="b", exit_code=1)
    assert response != ps.ExecResponse(stdout="a", stderr="b", exit_code=2)
    assert ps.SnapshotSpec().mode is None
    status = ps.StatusResponse.model_validate(
        {"id": "a", "name": "b", "image": "c", "phase": "running", "created_at": "t", "host": "h"}
    )
    assert status.phase is ps.StatusResponsePhase.RUNNING
    assert status.tags is None and status.exec_target is None
    assert "phase=<StatusResponsePhase.RUNNING: 'running'>" in repr(status)
    copy = status.model_copy(update={"name": "other"})
    assert copy.name == "other" and status.name == "b"


def test_record_model_is_volume() -> None:
    record = ps.VolumeRecord(
        id="vol-1", name="data", type=ps.VolumeType.DISK, path="vol-1",
        phase=ps.VolumePhase.READY, attached_to=[], created_at="2024-01-02T03:04:05Z",
    )  # fmt: skip
    assert type(record).__name__ == "Volume"
    assert record.model_dump(mode="json", exclude_none=True)["type"] == "disk"
