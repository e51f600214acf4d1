#!/usr/bin/env python3
"""Checks what every runner observed against the scenarios' expectations and prints the matrix.

    check.py SCENARIO_DIR NOT_APPLICABLE_JSON FIXTURE_DIR RESULTS_DIR RUNNER...

RESULTS_DIR/<runner>.jsonl holds each runner's JSON lines (README.md). A cell is `pass` when
every step of the scenario ran and met its expectation, `n.a.` when not_applicable.json lists
it (with its reason), `FAIL` otherwise — including a runner that never reported the scenario.
Exits 1 on any FAIL.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

VAR = re.compile(r"\$\{([a-z0-9_]+)(?:\.([a-z0-9_]+))?\}")
FIXTURES = "fixtures"


def substitute(value: Any, vars: dict[str, Any]) -> Any:
    """`${name}` and `${name.field}` replaced from the run's saved results (as in the runners)."""
    if isinstance(value, str):
        return VAR.sub(lambda m: str(vars[m.group(1)][m.group(2)] if m.group(2) else vars[m.group(1)]), value)
    if isinstance(value, list):
        return [substitute(v, vars) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, vars) for k, v in value.items()}
    return value


def mismatch(expected: Any, actual: Any, where: str = "") -> str | None:
    """Why `actual` does not match `expected` (README.md: matching rules), or None."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        (operator, operand), = expected.items()
        if operator == "$contains":
            if isinstance(actual, list) and any(mismatch(operand, item) is None for item in actual):
                return None
            return f"{where or 'value'}: {actual!r} does not contain {operand!r}"
        if operator == "$len":
            return None if isinstance(actual, list) and len(actual) == operand else f"{where}: length of {actual!r} is not {operand}"
        if operator == "$set":
            if isinstance(actual, list) and sorted(map(json.dumps, actual)) == sorted(map(json.dumps, operand)):
                return None
            return f"{where}: {actual!r} is not the set {operand!r}"
        if operator == "$unknown_enum":
            # Kotlin enums cannot carry an unknown text: they report the marker instead.
            return None if actual in (operand, "?unknown") else f"{where}: {actual!r} is neither {operand!r} nor ?unknown"
        return f"{where}: unknown operator {operator}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where or 'value'}: expected an object, got {actual!r}"
        for key, value in expected.items():
            problem = mismatch(value, actual.get(key), f"{where}.{key}" if where else key)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: expected {expected!r}, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            problem = mismatch(e, a, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if expected != actual or type(expected) is bool and type(actual) is not bool:
        return f"{where or 'value'}: expected {expected!r}, got {actual!r}"
    return None


def check_scenario(scenario: dict[str, Any], run: str, outcomes: dict[int, dict[str, Any]]) -> list[str]:
    """Every problem of one runner's outcomes for one scenario (empty: it passed)."""
    vars: dict[str, Any] = {"run": run}
    for index, step in enumerate(scenario["steps"]):
        label = f"step {index} ({step['op']})"
        outcome = outcomes.get(index)
        if outcome is None:
            return [f"{label} did not run"]
        if outcome["op"] != step["op"]:
            return [f"{label}: the runner reported {outcome['op']}"]
        if "within_ms" in step and outcome.get("elapsed_ms", float("inf")) > step["within_ms"]:
            return [f"{label}: took {outcome.get('elapsed_ms')} ms, more than {step['within_ms']} ms"]
        if "expect_error" in step:
            if outcome["ok"]:
                return [f"{label}: expected an error {step['expect_error']}, got {json.dumps(outcome['result'])}"]
            problem = mismatch(substitute(step["expect_error"], vars), outcome["error"])
            if problem:
                return [f"{label}: error {json.dumps(outcome['error'])}: {problem}"]
            continue
        if not outcome["ok"]:
            return [f"{label}: unexpected error {json.dumps(outcome['error'])}"]
        problem = mismatch(substitute(step.get("expect", {}), vars), outcome["result"])
        if problem:
            return [f"{label}: {problem}"]
        if "save" in step:
            vars[step["save"]] = outcome["result"]
    return []


def read_results(path: Path) -> tuple[str, dict[str, dict[int, Any]], dict[str, list[str]], dict[str, Any], bool]:
    """A runner's run id, step outcomes per scenario, crashes, fixture records, and whether it ended."""
    run, ended = "", False
    steps: dict[str, dict[int, Any]] = {}
    crashes: dict[str, list[str]] = {}
    fixtures: dict[str, Any] = {}
    if not path.exists():
        return run, steps, crashes, fixtures, ended
    for line in path.read_text().splitlines():
        record = json.loads(line)
        kind = record["type"]
        if kind == "start":
            run = record["run"]
        elif kind == "step":
            steps.setdefault(record["scenario"], {})[record["index"]] = record
        elif kind == "crash":
            crashes.setdefault(record["scenario"], []).append(record["detail"].strip())
        elif kind == "fixture":
            fixtures[record["name"]] = record
        elif kind == "end":
            ended = True
    return run, steps, crashes, fixtures, ended


def main() -> int:
    scenario_dir, na_file, fixture_dir, results_dir = map(Path, sys.argv[1:5])
    runners = sys.argv[5:]
    scenarios = {p.stem: json.loads(p.read_text()) for p in sorted(scenario_dir.glob("*.json"))}
    not_applicable: dict[str, dict[str, str]] = json.loads(na_file.read_text())
    fixture_names = sorted(p.stem for p in fixture_dir.glob("*.json"))
    unknown = sorted(set(not_applicable) - set(scenarios) - {FIXTURES, "_comment"})
    cells: dict[tuple[str, str], str] = {}
    failures: list[str] = []
    notes: list[str] = []
    for runner in runners:
        run, steps, crashes, fixtures, ended = read_results(results_dir / f"{runner}.jsonl")
        if not ended:
            failures.append(f"{runner}: the runner did not finish (see {results_dir / (runner + '.log')})")
        for name, scenario in scenarios.items():
            cells_na = not_applicable.get(name, {})
            reason = cells_na.get(runner) or cells_na.get("*")
            if reason:
                cells[name, runner] = "n.a."
                notes.append(f"{name} × {runner}: {reason}")
                continue
            problems = crashes.get(name, []) + check_scenario(scenario, run, steps.get(name, {}))
            cells[name, runner] = "FAIL" if problems else "pass"
            failures += [f"{name} × {runner}: {p}" for p in problems]
        reason = not_applicable.get(FIXTURES, {}).get(runner)
        label = f"{FIXTURES} ({len(fixture_names)} types)"
        if reason:
            cells[label, runner] = "n.a."
            notes.append(f"{FIXTURES} × {runner}: {reason}")
        else:
            problems = [f"{n}: {'not reported' if n not in fixtures else fixtures[n]['detail']}"
                        for n in fixture_names if not fixtures.get(n, {}).get("ok")]
            cells[label, runner] = "FAIL" if problems else "pass"
            failures += [f"{FIXTURES} × {runner}: {p}" for p in problems]
    rows = list(scenarios) + [f"{FIXTURES} ({len(fixture_names)} types)"]
    width = max(map(len, rows))
    print("scenario".ljust(width) + "".join(f"  {r:<12}" for r in runners))
    for row in rows:
        print(row.ljust(width) + "".join(f"  {cells[row, r]:<12}" for r in runners))
    counts = {v: sum(1 for c in cells.values() if c == v) for v in ("pass", "FAIL", "n.a.")}
    print(f"\n{counts['pass']} pass, {counts['FAIL']} FAIL, {counts['n.a.']} n.a. "
          f"({len(rows)} scenarios × {len(runners)} runners)")
    if notes:
        print(f"\nnot applicable ({na_file}):")
        for note in notes:
            print(f"  {note}")
    for name in unknown:
        failures.append(f"not_applicable.json names {name!r}, which is no scenario")
    if failures:
        print("\nfailures:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
