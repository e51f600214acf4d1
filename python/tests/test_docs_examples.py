"""The Python examples of the SDK reference page and of the official package's README, run
against the local server.

Two mechanical substitutions are applied to the example text, and only these: registry images
(`python:3.12-slim`, …) become the local server's `host` image, since this machine cannot pull
from a container registry, and argv `"python"` becomes `"python3"`, the interpreter the host
image has. Between snippets the test may wait for a sandbox to run or put files in place that an
example reads; the snippets themselves run as written.
"""

from __future__ import annotations

import asyncio
import os
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import porter_sandbox as ps
from conftest import wait_running


def run(snippet: str, namespace: dict[str, Any]) -> None:
    code = textwrap.dedent(snippet)
    code = re.sub(r'image="python:[^"]+"', 'image="host"', code)
    code = code.replace('["python", "-c"', '["python3", "-c"')
    exec(compile(code, "<example>", "exec"), namespace)


@pytest.fixture
def env(base_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    monkeypatch.setenv("PORTER_SANDBOX_BASE_URL", base_url)
    monkeypatch.chdir(tmp_path)
    return {"__name__": "example"}


def test_reference_page_examples(env: dict[str, Any]) -> None:
    run(
        """
        from porter_sandbox import Porter, AsyncPorter
        """,
        env,
    )
    run(
        """
        from porter_sandbox import Porter

        with Porter() as porter:
            sandbox = porter.sandboxes.create(
                image="python:3.12-slim",
                name="my-sandbox",
            )
        """,
        env,
    )
    porter = ps.Porter()
    env["porter"] = porter
    run(
        """
        sandbox = porter.sandboxes.get("my-sandbox")
        sandboxes = porter.sandboxes.list(tags={"workflow": "demo"}, page=1)
        """,
        env,
    )
    assert wait_running(env["sandbox"]) is ps.StatusResponsePhase.RUNNING
    run(
        """
        status = sandbox.refresh()
        result = sandbox.exec(["python", "-c", "print('hi')"])
        logs = sandbox.logs(limit=100)
        sandbox.terminate()
        """,
        env,
    )
    assert env["result"].stdout == "hi\n" and env["status"].name == "my-sandbox"
    assert any(line.line == "hi" for line in env["logs"])
    run(
        """
        volume = porter.volumes.create(name="my-data")

        sandbox = porter.sandboxes.create(
            image="python:3.12-slim",
            volume_mounts={"/mnt/data": volume.id},
        )
        """,
        env,
    )
    assert wait_running(env["sandbox"]) is ps.StatusResponsePhase.RUNNING
    env["sandbox"].terminate()
    run(
        """
        porter.volumes.list()
        porter.volumes.create(name=None)
        porter.volumes.get("my-data")
        """,
        env,
    )
    while porter.volumes.get("my-data").refresh().attached_to:
        time.sleep(0.05)
    run('porter.volumes.delete("my-data")', env)

    async def async_example() -> None:
        namespace = dict(env)
        run(
            """
            async def main():
                from porter_sandbox import AsyncPorter

                async with AsyncPorter() as porter:
                    sandbox = await porter.sandboxes.create(
                        image="python:3.12-slim",
                        name="async-sandbox",
                    )
                    while (await sandbox.refresh()).phase.value in ("queued", "creating"):
                        pass
                    result = await sandbox.exec(["python", "-c", "print('hi')"])
                    await sandbox.terminate()
                    return result
            """,
            namespace,
        )
        result = await namespace["main"]()
        assert result.stdout == "hi\n"

    asyncio.run(async_example())
    run(
        """
        raw_client = porter.raw
        raw_sandboxes = porter.sandboxes.raw
        """,
        env,
    )
    assert env["raw_sandboxes"] is env["raw_client"].sandboxes
    porter.close()


def test_official_readme_examples(env: dict[str, Any]) -> None:
    run(
        """
        from porter_sandbox import Porter

        with Porter() as porter:
            sb = porter.sandboxes.create(
                image="python:3.11-alpine",
                command=["python", "-c", "print('hi')"],
            )
            print(sb.logs())
            sb.terminate()
        """,
        env,
    )
    porter = ps.Porter()
    env["porter"] = porter
    run(
        """
        volume = porter.volumes.create(name="my-data")

        sb = porter.sandboxes.create(
            image="python:3.11-alpine",
            volume_mounts={"/mnt/my-data": volume.id},
        )
        """,
        env,
    )
    volume = env["volume"]
    volume.write_text("/checkpoints/config.json", '{"layers": 2}')
    volume.write_file("/checkpoints/model.safetensors", os.urandom(3 * 1024 * 1024 + 5))
    run(
        """
        for file in volume.listdir("/checkpoints"):
            print(file.path, file.size_bytes)

        config = volume.read_text("/checkpoints/config.json")

        with open("model.safetensors", "wb") as out:
            for chunk in volume.stream("/checkpoints/model.safetensors"):
                out.write(chunk)
        """,
        env,
    )
    assert env["config"] == '{"layers": 2}'
    assert Path("model.safetensors").read_bytes() == volume.read_file(
        "/checkpoints/model.safetensors"
    )
    env["sb"].terminate()

    namespace = dict(env)
    run(
        """
        import asyncio
        from porter_sandbox import AsyncPorter

        async def main():
            async with AsyncPorter() as porter:
                sb = await porter.sandboxes.create(image="python:3.11-alpine", command=["python", "-c", "print('hi')"])
                print(await sb.logs())
                await sb.terminate()

        asyncio.run(main())
        """,
        namespace,
    )
    namespace["commands"] = [["python3", "-c", f"print({i})"] for i in range(4)]
    run(
        """
        async def fan_out():
            async with AsyncPorter() as porter:
                results = await asyncio.gather(*[
                    porter.sandboxes.create(image="python:3.11", command=cmd) for cmd in commands
                ])
            return results
        """,
        namespace,
    )
    results = asyncio.run(namespace["fan_out"]())
    assert len(results) == 4 and all(isinstance(r, ps.AsyncSandbox) for r in results)
    porter.close()
