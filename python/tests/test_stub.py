"""Client behaviour against a scripted HTTP server: headers, query encoding, retries, error
mapping, redirects with a replayed file body, and decoding of models the local server does not
produce (snapshots, metrics)."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import porter_sandbox as ps


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Stub:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.route: Callable[[Seen], Reply] = lambda _: Reply(body={})
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding") == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(length)
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            body)  # fmt: skip
                stub.seen.append(seen)
                reply = stub.route(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                data = b"" if reply.body is None else (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )  # fmt: skip
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.server.shutdown()


STATUS = {"id": "sb-1", "name": "one", "image": "host", "phase": "running",
          "created_at": "2024-01-01T00:00:00Z", "host": "h"}  # fmt: skip


def test_headers_and_user_agent(stub: Stub) -> None:
    stub.route = lambda _: Reply(body=STATUS)
    with ps.Porter(api_key="secret", base_url=stub.url + "/prefix/") as porter:
        porter.raw.sandboxes.get_sandbox("sb-1")
    seen = stub.seen[-1]
    assert seen.path == "/prefix/v1/sandbox/sb-1"
    assert seen.headers["user-agent"] == f"porter-sandbox-python/{ps.__version__}"
    assert seen.headers["authorization"] == "Bearer secret"
    assert seen.headers["accept"] == "application/json"
    assert "content-type" not in seen.headers
    with ps.Porter(base_url=stub.url) as anonymous:
        anonymous.raw.sandboxes.get_sandbox("sb-1")
    assert "authorization" not in stub.seen[-1].headers


def test_query_encoding(stub: Stub) -> None:
    page = {"sandboxes": [STATUS], "pagination": {"current_page": 2, "total_pages": 3,
            "has_next_page": True}}  # fmt: skip
    stub.route = lambda _: Reply(body=page)
    with ps.Porter(base_url=stub.url) as porter:
        listed = porter.sandboxes.list(tags={"env": "prod", "owner": "a b"},
                                       phase=[ps.SandboxesPhase.RUNNING, ps.SandboxesPhase.QUEUED],
                                       include_filter_values=False, page=2)  # fmt: skip
        assert [s.id for s in listed] == ["sb-1"] and listed[0].phase is ps.StatusResponsePhase.RUNNING
        assert stub.seen[-1].path == (
            "/v1/sandbox?tag=env%3Dprod&tag=owner%3Da%20b&phase=running&phase=queued"
            "&include_filter_values=false&page=2"
        )
        porter.sandboxes.list(tags={})
        assert stub.seen[-1].path == "/v1/sandbox"
        stub.route = lambda _: Reply(status=204)
        porter.raw.sandboxes.delete_sandbox("sb-1", ps.SandboxesSource.DASHBOARD)
        assert stub.seen[-1].method == "DELETE"
        assert stub.seen[-1].path == "/v1/sandbox/sb-1?source=dashboard"
        stub.route = lambda _: Reply(body={"sandbox_id": "sb-1", "logs": []})
        ps.Sandbox(id="sb-1", resource=porter.sandboxes.raw).logs(since="10m", limit=5)
        assert stub.seen[-1].path == "/v1/sandbox/sb-1/logs?limit=5&since=10m"


def test_models_the_local_server_does_not_produce(stub: Stub) -> None:
    snapshot = {"id": "snap-1", "sandbox_id": "sb-1", "mode": "filesystem", "status": "ready",
                "t_created_unix_ms": 1, "size_bytes": 10}  # fmt: skip
    summary = {"window_seconds": 60, "has_data": True, "cpu_cores_p50": 0.5, "cpu_cores_p90": 1.0,
               "cpu_limit_cores": 2.0, "cpu_util_p50_pct": 25.0, "cpu_util_p90_pct": 50.0,
               "mem_bytes_p50": 100, "mem_bytes_p90": 200, "mem_limit_bytes": 1000,
               "mem_util_p50_pct": 10.0, "mem_util_p90_pct": 20.0}  # fmt: skip
    metrics = {"results": [{"series": [{"labels": {"pod": "p"}, "unit": "cores",
               "time_series": [{"timestamp_utc": "2024-01-01T00:00:00Z", "value": 0.25}]}]}]}  # fmt: skip
    routes = {
        "/v1/sandbox/sb-1/snapshot": snapshot,
        "/v1/snapshot/snap-1": snapshot,
        "/v1/snapshot?sandbox_id=sb-1": {"snapshots": [snapshot]},
        "/v1/sandbox/sb-1/metrics-summary?since=1h": summary,
        "/v1/sandbox/sb-1/metrics?metric=cpu_usage&start_time_utc=a&end_time_utc=b": metrics,
        "/v1/sandbox/counts?phase=failed": {"points": [{"timestamp": "t", "count": 2}],
                                            "granularity_ms": 1000},
    }  # fmt: skip
    stub.route = lambda seen: Reply(body=routes.get(seen.path.split("#")[0], {"error": "no"}),
                                    status=200 if seen.path in routes else 404)  # fmt: skip
    with ps.Porter(base_url=stub.url) as porter:
        created = porter.snapshots.create("sb-1", ps.SnapshotSpec(mode=ps.SnapshotMode.FILESYSTEM))
        assert created.mode is ps.SnapshotMode.FILESYSTEM and created.status is ps.SnapshotStatus.READY
        assert json.loads(stub.seen[-1].body) == {"mode": "filesystem"}
        assert porter.snapshots.get("snap-1") == created
        assert porter.snapshots.list(sandbox_id="sb-1").snapshots == [created]
        porter.snapshots.delete("snap-1")
        got = porter.raw.sandboxes.get_sandbox_metrics_summary("sb-1", since="1h")
        assert got.cpu_cores_p_50 == 0.5 and got.mem_bytes_p_90 == 200
        series = porter.raw.sandboxes.get_sandbox_metrics("sb-1", ps.SandboxMetric.CPU_USAGE, "a", "b")
        assert series.results[0].series[0].time_series[0].value == 0.25
        assert series.results[0].series[0].labels == {"pod": "p"}
        counts = porter.raw.sandboxes.sandbox_counts(phase=[ps.SandboxesPhase.FAILED])
        assert counts.points == [ps.CountPoint(timestamp="t", count=2)]


def test_unknown_enum_values_are_kept(stub: Stub) -> None:
    stub.route = lambda _: Reply(body={**STATUS, "phase": "hibernating"})
    with ps.Porter(base_url=stub.url) as porter:
        status = porter.raw.sandboxes.get_sandbox("sb-1")
    assert status.phase == "hibernating"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, ps.AuthenticationError), (404, ps.NotFoundError), (409, ps.SandboxError),
     (429, ps.RateLimitError), (503, ps.ServerError)],
)  # fmt: skip
def test_error_mapping_and_retries(stub: Stub, status: int, cls: type[ps.SandboxError]) -> None:
    stub.route = lambda _: Reply(status=status, body={"error": f"status {status}"})
    with ps.Porter(base_url=stub.url) as porter:
        with pytest.raises(cls) as raised:
            porter.healthz.health_check()
    assert type(raised.value) is cls
    assert raised.value.status_code == status
    kinds = {401: "authentication", 404: "not_found", 409: "api", 429: "rate_limit", 503: "server"}
    assert raised.value.kind == kinds[status]
    assert raised.value.body == {"error": f"status {status}"}
    assert raised.value.message == f"status {status}"
    attempts = 4 if status in (429, 503) else 1
    assert len(stub.seen) == attempts


def test_text_error_body(stub: Stub) -> None:
    stub.route = lambda _: Reply(status=418, body=b"teapot", headers={"Content-Type": "text/plain"})
    with ps.Porter(base_url=stub.url) as porter:
        with pytest.raises(ps.SandboxError) as raised:
            porter.healthz.health_check()
    assert (raised.value.message, raised.value.body) == ("HTTP 418", "teapot")
    assert raised.value.kind == "api"


def test_error_kinds_of_network_failures_and_constructed_errors() -> None:
    with ps.Porter(base_url="http://127.0.0.1:9", max_retries=0) as porter:
        with pytest.raises(ps.SandboxError) as raised:
            porter.healthz.health_check()
    assert raised.value.kind == "network"
    assert ps.NotFoundError("gone").kind == "not_found"
    assert ps.SandboxError("x", kind="decode").kind == "decode"
    import pickle

    assert pickle.loads(pickle.dumps(ps.ServerError("down", status_code=503))).kind == "server"


def test_exec_is_never_retried_and_timeouts_are_not_retried(stub: Stub) -> None:
    stub.route = lambda _: Reply(status=503, body={"error": "busy"})
    with ps.Porter(base_url=stub.url) as porter:
        with pytest.raises(ps.ServerError):
            ps.Sandbox(id="sb-1", resource=porter.sandboxes.raw).exec(["true"])
        assert len(stub.seen) == 1
        stub.route = lambda _: Reply(body=STATUS, delay=1.0)
    with ps.Porter(base_url=stub.url, timeout=0.2) as porter:
        with pytest.raises(ps.SandboxTimeoutError, match=r"timed out after 0\.2s") as raised:
            porter.raw.sandboxes.get_sandbox("sb-1")
        assert raised.value.status_code is None
        assert raised.value.kind == "timeout"
    assert len(stub.seen) == 2


def test_write_redirect_replays_a_file_body(stub: Stub) -> None:
    def route(seen: Seen) -> Reply:
        if seen.path.startswith("/v1/volume/vol-1/files/content"):
            return Reply(status=307, headers={"Location": "/upload/here?token=1"})
        return Reply(status=204)

    stub.route = route
    payload = bytes(range(256)) * 8192  # 2 MiB: several 1 MiB reads
    with ps.Porter(base_url=stub.url) as porter:
        porter.raw.volumes.write_volume_file("vol-1", io.BytesIO(payload), "/a b.bin")
        first, second = stub.seen
        assert first.path == "/v1/volume/vol-1/files/content?path=%2Fa%20b.bin"
        assert first.headers["content-type"] == "application/octet-stream"
        assert second.path == "/upload/here?token=1"
        assert first.body == payload and second.body == payload

        async def upload() -> None:
            async with ps.AsyncPorter(base_url=stub.url) as client:
                await client.raw.volumes.write_volume_file("vol-1", io.BytesIO(b"again"), "/x")

        asyncio.run(upload())
        assert [s.body for s in stub.seen[2:]] == [b"again", b"again"]
