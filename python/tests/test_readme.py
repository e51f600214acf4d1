"""Every Python block of README.md, run as written, twice in a row against one local server: the
README stays correct and its examples can be run again (unique names, the files they read created
by them, everything they start ended). A block preceded by ``<!-- readme-test: skip … -->`` is
left out (with the reason in the marker)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SKIP = "<!-- readme-test: skip"


def python_blocks() -> list[str]:
    blocks = []
    previous = ""
    lines = iter(README.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if re.match(r"\s*```python\s*$", line):
            body = []
            for inner in lines:
                if inner.startswith("```"):
                    break
                body.append(inner)
            if not previous.lstrip().startswith(SKIP):
                blocks.append("\n".join(body) + "\n")
        previous = line
    return blocks


def test_the_readme_has_python_examples() -> None:
    assert python_blocks(), f"no runnable ```python block in {README}"


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_a_readme_example_runs_twice_in_a_row(
    index: int, base_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORTER_SANDBOX_BASE_URL", base_url)
    monkeypatch.delenv("PORTER_SANDBOX_API_KEY", raising=False)
    monkeypatch.delenv("PORTER_CLUSTER_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    code = compile(python_blocks()[index], f"README.md python block {index}", "exec")
    for _ in range(2):
        exec(code, {"__name__": "readme_example"})
