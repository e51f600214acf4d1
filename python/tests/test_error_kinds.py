"""Every error kind of the Rust core (``ErrorKind::as_str`` in core/src/error.rs) reaches Python:
as ``SandboxError.kind`` on the class python/README.md's table names (``config`` as a
``ValueError``), each produced the way a user meets it. The README table and the
``porter_sandbox._errors`` docstring list exactly the core's kinds."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_stub import STATUS, Reply, Seen, Stub

import porter_sandbox as ps
from porter_sandbox import _errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.server.shutdown()


def core_kinds() -> list[str]:
    source = (ROOT / "core" / "src" / "error.rs").read_text()
    body = source[source.index("pub fn as_str(self)") :]
    body = body[: body.index("\n    }\n")]
    kinds = re.findall(r'Self::\w+ => "([a-z_]+)"', body)
    assert len(kinds) >= 12, kinds
    return kinds


def readme_table() -> dict[str, str]:
    """``kind`` → the class column of python/README.md's error table."""
    text = (ROOT / "python" / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| (.+) \|$", text, re.MULTILINE)
    return {kind: cls for kind, cls in rows if kind != "kind"}  # not the header


def test_the_readme_and_the_docstring_list_every_core_kind() -> None:
    kinds = core_kinds()
    assert sorted(readme_table()) == sorted(kinds)
    docstring = re.findall(r"^``([a-z_]+)``\s", _errors.__doc__ or "", re.MULTILINE)
    assert sorted(docstring[1:]) == sorted(kinds)  # the first is the header, ``kind``


def _porter(stub: Stub, route: Callable[[Seen], Reply], **options: float) -> ps.Porter:
    stub.route = route
    return ps.Porter(base_url=stub.url, **options)  # type: ignore[arg-type]


def _status(code: int) -> Callable[[Seen], Reply]:
    # Retry-After: 0 keeps the retries of 429 and 5xx quick.
    return lambda _: Reply(status=code, body={"error": f"status {code}"}, headers={"Retry-After": "0"})


def _terminal(seen: Seen) -> Reply:
    if seen.path.startswith("/v1/sandbox/sb-1/logs"):
        return Reply(body={"sandbox_id": "sb-1", "logs": []})
    return Reply(body={**STATUS, "phase": "failed", "termination_reason": "launch_failed"})


def _closed(stub: Stub) -> None:
    porter = _porter(stub, lambda _: Reply(body=STATUS))
    porter.close()
    porter.raw.sandboxes.get_sandbox("sb-1")


#: kind → how a user meets it (against the scripted server).
SCENARIOS: dict[str, Callable[[Stub], object]] = {
    "authentication": lambda stub: _porter(stub, _status(401)).healthz.health_check(),
    "not_found": lambda stub: _porter(stub, _status(404)).raw.sandboxes.get_sandbox("sb-1"),
    "rate_limit": lambda stub: _porter(stub, _status(429)).healthz.health_check(),
    "server": lambda stub: _porter(stub, _status(503)).healthz.health_check(),
    "api": lambda stub: _porter(stub, _status(409)).raw.sandboxes.get_sandbox("sb-1"),
    "timeout": lambda stub: _porter(stub, lambda _: Reply(body=STATUS, delay=1.0), timeout=0.2)
    .raw.sandboxes.get_sandbox("sb-1"),
    "network": lambda _: ps.Porter(base_url="http://127.0.0.1:9").healthz.health_check(),
    "decode": lambda stub: _porter(stub, lambda _: Reply(body=b"{not json"))
    .raw.sandboxes.get_sandbox("sb-1"),
    "invalid_argument": _closed,
    "sandbox_terminal": lambda stub: ps.Sandbox(
        id="sb-1", resource=_porter(stub, _terminal).sandboxes.raw
    ).wait_until_running(timeout=30),
    "unsupported": lambda stub: ps.Sandbox(
        id="sb-1", resource=_porter(stub, _status(404)).sandboxes.raw
    ).start(["true"]),
    "config": lambda _: ps.Porter(base_url="not a url"),
}


def test_every_core_kind_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(core_kinds())


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_each_kind_is_raised_as_the_table_says(stub: Stub, kind: str) -> None:
    expected = readme_table()[kind]
    if kind == "config":
        assert expected.startswith("`ValueError`")
        with pytest.raises(ValueError) as config_error:
            SCENARIOS[kind](stub)
        assert not isinstance(config_error.value, ps.SandboxError)
        return
    with pytest.raises(ps.SandboxError) as raised:
        SCENARIOS[kind](stub)
    assert raised.value.kind == kind, raised.value
    assert f"`{type(raised.value).__name__}`" == expected
