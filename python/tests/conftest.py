"""Fixtures: one real `porter-sandbox serve` for the whole session (free port, temporary data
directory, --ephemeral), clients for it, and helpers to wait for sandboxes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from porter_sandbox import Porter, Sandbox, StatusResponsePhase

ROOT = Path(__file__).resolve().parents[2]
ENV_VARS = (
    "PORTER_SANDBOX_API_KEY",
    "PORTER_SANDBOX_BASE_URL",
    "PORTER_CLUSTER_ID",
    "KUBERNETES_SERVICE_HOST",
)


def server_binary() -> Path:
    configured = os.environ.get("PORTER_SANDBOX_BIN")
    target = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")  # an absolute one replaces ROOT
    binary = Path(configured) if configured else target / "debug" / "porter-sandbox"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build -p porter-sandbox-cli` first")
    return binary


#: How long a server may take to write its ready file: generous, for a loaded machine.
READY_TIMEOUT = 60.0


def wait_ready(process: subprocess.Popen[str], ready_file: Path) -> dict[str, Any]:
    """Waits until `process` (started with ``--ready-file ready_file``) has written its ready
    file, and returns it (``url``, ``pid``, ``data_dir``, ``auth``, ``api_key_file``)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        # The server writes it atomically (temporary file + rename): complete once it exists.
        if ready_file.exists():
            ready: dict[str, Any] = json.loads(ready_file.read_text())
            if ready["pid"] == process.pid:
                return ready
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server wrote no ready file in {READY_TIMEOUT} s")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    data = tempfile.mkdtemp(prefix="porter-sandbox-pytest-")
    ready_file = Path(data) / "ready.json"
    # The server generates its key and announces itself in this discovery file; clients
    # given only the URL find the key there, as a user's programs do.
    os.environ["PORTER_SANDBOX_DISCOVERY_FILE"] = os.path.join(data, "local-server.json")
    process = subprocess.Popen(
        [str(server_binary()), "serve", "--listen", "127.0.0.1:0", "--ephemeral",
         # Registry images in tests run on the `host` image when no registry is reachable.
         "--offline-images", "host",
         "--data-dir", os.path.join(data, "data"), "--ready-file", str(ready_file)],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "warn"},
        text=True,
    )  # fmt: skip
    try:
        yield wait_ready(process, ready_file)["url"]
    finally:
        # Ended by its pid (the child), never by name.
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def porter(base_url: str) -> Iterator[Porter]:
    with Porter(base_url=base_url) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_running(sandbox: Sandbox, timeout: float = 60) -> StatusResponsePhase | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sandbox.refresh()
        if status.phase not in (StatusResponsePhase.QUEUED, StatusResponsePhase.CREATING):
            return status.phase
        time.sleep(0.05)
    return sandbox.phase


@pytest.fixture(scope="module")
def running(base_url: str) -> Iterator[Sandbox]:
    """A running sandbox shared by a module's tests."""
    with Porter(base_url=base_url) as client:
        sandbox = client.sandboxes.create(
            "host", name=unique("shared"), command=["sleep", "600"], tags={"suite": "pytest"}
        )
        assert wait_running(sandbox) == StatusResponsePhase.RUNNING
        yield sandbox
        sandbox.terminate()
