"""The conformance runner for Python: interprets the scenario files with the sync client
(`--mode sync`) or the async one (`--mode async`) and writes one JSON line per step.

Configuration comes from the environment the driver sets (see ../README.md): CONFORMANCE_*.
The canonical result of every operation is documented in README.md; this file only maps each
operation onto the Python surface and the outcome onto that canonical form.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import inspect
import json
import os
import re
import secrets
import sys
import time
import traceback
import urllib.request
from pathlib import Path
from typing import Any

import porter_sandbox as ps
from porter_sandbox import _models

WAIT_SECONDS = 60.0
VAR = re.compile(r"\$\{([a-z0-9_]+)(?:\.([a-z0-9_]+))?\}")


def elapsed(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def wire(value: Any) -> Any:
    """The wire string of an enum member; a value the client does not know stays a string."""
    return getattr(value, "value", value)


def status(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "image": s.image,
        "phase": wire(s.phase),
        "tags": s.tags,
        "exit_code": s.exit_code,
        "termination_reason": wire(s.termination_reason),
    }


def snapshot(s: Any) -> dict[str, Any]:
    return {"id": s.id, "sandbox_id": s.sandbox_id, "mode": wire(s.mode), "status": wire(s.status)}


def exec_result(r: Any) -> dict[str, Any]:
    return {"exit_code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "timed_out": r.timed_out}


def entry(f: Any) -> dict[str, Any]:
    out = {"name": f.name, "path": f.path, "type": wire(f.type)}
    if out["type"] == "file":
        out["size"] = f.size_bytes
    return out


def error(e: BaseException) -> dict[str, Any]:
    if isinstance(e, ps.SandboxError):
        return {"kind": e.kind, "status": e.status_code, "message": e.message, "body": e.body}
    if isinstance(e, ValueError):
        # Python's idiom for what the caller got wrong (README.md: error kinds).
        return {"kind": "invalid_argument", "status": None, "message": str(e)}
    raise e


class Runner:
    """Runs scenarios against one client flavour; `call` awaits only in async mode."""

    def __init__(self, mode: str, out: Any) -> None:
        self.mode = mode
        self.out = out
        self.run = f"{'py' if mode == 'sync' else 'pa'}{secrets.token_hex(4)}"
        self.local_url = os.environ["CONFORMANCE_LOCAL_URL"]
        self.local_key = os.environ["CONFORMANCE_LOCAL_KEY"]
        self.fault_url = os.environ["CONFORMANCE_FAULT_URL"]

    def emit(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    async def call(self, value: Any) -> Any:
        return await value if inspect.isawaitable(value) else value

    def substitute(self, value: Any, vars: dict[str, Any]) -> Any:
        if isinstance(value, str):
            def one(m: re.Match[str]) -> str:
                found = vars[m.group(1)]
                return str(found[m.group(2)] if m.group(2) else found)

            return VAR.sub(one, value)
        if isinstance(value, list):
            return [self.substitute(v, vars) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v, vars) for k, v in value.items()}
        return value

    def client(self, name: str, scenario: dict[str, Any]) -> Any:
        config = scenario.get("client", {})
        if scenario["server"] == "local":
            base_url, key = self.local_url, self.local_key
        else:
            base_url, key = f"{self.fault_url}/{name}.{self.run}", None
        key = config.get("api_key", key)
        timeout = config["timeout_ms"] / 1000 if "timeout_ms" in config else None
        cls = ps.Porter if self.mode == "sync" else ps.AsyncPorter
        return cls(api_key=key, base_url=base_url, timeout=timeout)

    async def scenario(self, name: str, scenario: dict[str, Any]) -> None:
        vars: dict[str, Any] = {"run": self.run}
        handles: dict[str, Any] = {}
        porter = self.client(name, scenario)
        try:
            for index, step in enumerate(scenario["steps"]):
                args = self.substitute(step.get("args", {}), vars)
                record: dict[str, Any] = {"type": "step", "scenario": name, "index": index, "op": step["op"]}
                started = time.monotonic()
                try:
                    result, handle = await self.op(porter, name, step["op"], args, handles)
                except Exception as e:  # noqa: BLE001 - every failure is reported, unknown ones re-raised
                    record.update(ok=False, error=error(e), elapsed_ms=elapsed(started))
                    self.emit(record)
                    if "expect_error" not in step:
                        break
                    continue
                record.update(ok=True, result=result, elapsed_ms=elapsed(started))
                self.emit(record)
                if "save" in step:
                    vars[step["save"]] = result
                    if handle is not None:
                        handles[step["save"]] = handle
        finally:
            await self.cleanup(porter, handles)

    async def cleanup(self, porter: Any, handles: dict[str, Any]) -> None:
        """Terminates the sandboxes and deletes the volumes a scenario created."""
        for handle in handles.values():
            try:
                if isinstance(handle, (ps.Sandbox, ps.AsyncSandbox)):
                    await self.call(handle.terminate())
                else:
                    await self.call(handle.delete())
            except ps.SandboxError:
                pass
        close = getattr(porter, "close", None) or porter.aclose
        await self.call(close())

    async def op(self, porter: Any, name: str, op: str, a: dict[str, Any], h: dict[str, Any]) -> tuple[Any, Any]:
        call = self.call
        if op == "create_sandbox":
            sb = await call(porter.sandboxes.create(
                a["image"], name=a.get("name"), command=a.get("command"), tags=a.get("tags"),
                snapshot_id=a.get("snapshot_id"),
            ))
            return {"id": sb.id}, sb
        if op == "wait_until_running":
            return status(await call(h[a["sandbox"]].wait_until_running(timeout=WAIT_SECONDS))), None
        if op == "wait":
            return {"exit_code": await call(h[a["sandbox"]].wait(timeout=WAIT_SECONDS))}, None
        if op == "refresh":
            return status(await call(h[a["sandbox"]].refresh())), None
        if op == "get_sandbox":
            sb = await call(porter.sandboxes.get(a["name"]))
            # The status that get() read; the official surface shows only its phase and tags.
            return status(sb._status), None
        if op == "get_sandbox_by_id":
            return status(await call(porter.raw.sandboxes.get_sandbox(a["id"]))), None
        if op == "exec":
            timeout = a["timeout_ms"] / 1000 if "timeout_ms" in a else None
            result = h[a["sandbox"]].exec(
                a["command"], timeout=timeout, workdir=a.get("workdir"), env=a.get("env"), stdin=a.get("stdin")
            )
            return exec_result(await call(result)), None
        if op == "exec_by_id":
            body = ps.ExecRequest(command=a["command"])
            return exec_result(await call(porter.raw.sandboxes.exec_sandbox(a["id"], body))), None
        if op == "start_process":
            process = await call(h[a["sandbox"]].start(a["command"]))
            return {"started": process is not None}, None
        if op == "logs":
            lines = await call(h[a["sandbox"]].logs(limit=a.get("limit")))
            return {
                "lines": [line.line for line in lines],
                "levels": [wire(line.level) for line in lines],
                "from_exec": [bool(line.exec_id) for line in lines],
            }, None
        if op == "list_sandboxes":
            found = await call(porter.sandboxes.list(tags=a.get("tags"), phase=a.get("phase")))
            return {"ids": [sb.id for sb in found]}, None
        if op == "terminate":
            await call(h[a["sandbox"]].terminate())
            return {}, None
        if op == "create_volume":
            vol = await call(porter.volumes.create(name=a.get("name")))
            return {"id": vol.id, "name": vol.name}, vol
        if op == "get_volume":
            vol = await call(porter.volumes.get(a["name"]))
            return {"id": vol.id, "name": vol.name}, None
        if op == "delete_volume":
            await call(porter.volumes.delete(a["name"]))
            return {}, None
        if op == "write_file":
            await call(h[a["volume"]].write_file(a["path"], base64.b64decode(a["base64"])))
            return {}, None
        if op == "read_file":
            data = await call(h[a["volume"]].read_file(a["path"], offset=a.get("offset"), length=a.get("length")))
            return {"base64": base64.b64encode(data).decode(), "size": len(data)}, None
        if op == "stream":
            chunks = h[a["volume"]].stream(a["path"], chunk_size=a["chunk_size"])
            if self.mode == "sync":
                data = list(chunks)
            else:
                data = [chunk async for chunk in chunks]
            return {"chunks": [base64.b64encode(c).decode() for c in data]}, None
        if op == "move_file":
            await call(h[a["volume"]].move_file(a["from"], a["to"]))
            return {}, None
        if op == "listdir":
            return {"entries": [entry(f) for f in await call(h[a["volume"]].listdir(a["path"]))]}, None
        if op == "create_snapshot":
            return snapshot(await call(porter.snapshots.create(h[a["sandbox"]].id, ps.SnapshotSpec()))), None
        if op == "wait_snapshot":
            deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
            while True:
                found = await call(porter.snapshots.get(a["id"]))
                if wire(found.status) != "pending" or asyncio.get_running_loop().time() > deadline:
                    return snapshot(found), None
                await asyncio.sleep(0.1)
        if op == "get_snapshot":
            return snapshot(await call(porter.snapshots.get(a["id"]))), None
        if op == "delete_snapshot":
            await call(porter.snapshots.delete(a["id"]))
            return {}, None
        if op == "close_client":
            await call((getattr(porter, "close", None) or porter.aclose)())
            return {}, None
        if op == "healthz":
            return {"status": (await call(porter.healthz.health_check())).status}, None
        if op == "fault_log":
            with urllib.request.urlopen(f"{self.fault_url}/__log/{name}.{self.run}") as response:
                return json.load(response), None
        raise NotImplementedError(f"operation {op!r} is not implemented by this runner")


def fixtures(runner: Runner, directory: Path) -> None:
    """Each core fixture through the Python model of its schema and back to JSON."""
    for path in sorted(directory.glob("*.json")):
        wire_json = json.loads(path.read_text())
        record: dict[str, Any] = {"type": "fixture", "name": path.stem}
        try:
            model = getattr(_models, path.stem)
            dumped = model.model_validate(wire_json).model_dump(mode="json", by_alias=True, exclude_none=True)
            again = model.model_validate_json(json.dumps(dumped)).model_dump(mode="json", by_alias=True, exclude_none=True)
            problems = [] if dumped == wire_json == again else [f"round trip gave {json.dumps(dumped)}"]
        except Exception as e:  # noqa: BLE001 - reported as this fixture's failure
            problems = [f"{type(e).__name__}: {e}"]
        record.update(ok=not problems, detail="; ".join(problems))
        runner.emit(record)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["sync", "async"], required=True)
    mode = parser.parse_args().mode
    scenario_dir = Path(os.environ["CONFORMANCE_SCENARIOS"])
    skip = set(filter(None, os.environ.get("CONFORMANCE_SKIP", "").split(",")))
    with open(os.environ["CONFORMANCE_OUT"], "w") as out:
        runner = Runner(mode, out)
        runner.emit({"type": "start", "run": runner.run})
        for path in sorted(scenario_dir.glob("*.json")):
            if path.stem in skip:
                continue
            try:
                await runner.scenario(path.stem, json.loads(path.read_text()))
            except Exception:  # noqa: BLE001 - a runner bug fails this scenario, not the others
                runner.emit({"type": "crash", "scenario": path.stem, "detail": traceback.format_exc()})
        if "fixtures" not in skip:
            fixtures(runner, Path(os.environ["CONFORMANCE_FIXTURES"]))
        runner.emit({"type": "end"})


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
