"""The Python models and enums against the one source of truth, ``spec/openapi.json`` (generated
from the Rust types): every field of every schema is a model field with the same wire name and
the same required-ness, and every enum has exactly the document's values. Deliberate deviations
(official SDK quirks) are listed below, each with its reason; anything else is drift."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from porter_sandbox import _models, enums

SPEC = json.loads((Path(__file__).resolve().parents[2] / "spec" / "openapi.json").read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

#: Schemas with no Python model, and why.
NO_MODEL = {
    "ProcessRequest": "built by Sandbox.start from its keyword arguments",
    "ProcessList": "Sandbox.processes() returns Process handles",
    "ServerExtensions": "read and cached by the core; not part of the Python surface",
    "SignalRequest": "built by Process.kill",
    "TerminalSize": "Sandbox.start takes pty=(cols, rows)",
}

#: Model fields whose required-ness differs from the document on purpose.
OPTIONALITY: set[tuple[str, str]] = set()

#: Spec fields a model leaves out on purpose, and why.
NOT_MODELLED = {
    # The official ExecRequest has only `command`; Sandbox.exec(timeout=, workdir=, env=, stdin=)
    # sends the extension fields through the core.
    ("ExecRequest", "env"),
    ("ExecRequest", "stdin"),
    ("ExecRequest", "timeout_seconds"),
    ("ExecRequest", "workdir"),
}


def _models_by_name() -> dict[str, type[_models.BaseModel]]:
    out = {}
    for name in dir(_models):
        value = getattr(_models, name)
        if (
            isinstance(value, type)
            and issubclass(value, _models.BaseModel)
            and value is not _models.BaseModel
        ):
            out[name] = value
    return out


def _enums_by_name() -> dict[str, type[Enum]]:
    return {
        name: value
        for name in dir(enums)
        if isinstance(value := getattr(enums, name), type)
        and issubclass(value, Enum)
        and value.__module__ == enums.__name__
        and not name.startswith("_")
    }


OBJECTS = sorted(n for n, s in SCHEMAS.items() if s.get("type") == "object" or "properties" in s)
ENUMS = sorted(n for n, s in SCHEMAS.items() if "enum" in s or ("oneOf" in s and "properties" not in s))


@pytest.mark.parametrize("name", OBJECTS)
def test_every_object_schema_is_a_model_with_the_same_fields(name: str) -> None:
    if name in NO_MODEL:
        return
    models = _models_by_name()
    assert name in models, f"spec schema {name} has no model in porter_sandbox._models"
    schema = SCHEMAS[name]
    fields = {f.alias: f for f in models[name]._fields()}
    wire = set(schema.get("properties", {})) - {f for (m, f) in NOT_MODELLED if m == name}
    assert set(fields) == wire, f"{name}: model-only {set(fields) - wire}, spec-only {wire - set(fields)}"
    required = set(schema.get("required", []))
    for alias, field in fields.items():
        expected = alias in required and (name, alias) not in OPTIONALITY
        assert field.required == expected, f"{name}.{alias}: required={field.required}, spec says {expected}"


def _enum_values(schema: dict[str, Any]) -> set[str]:
    if "enum" in schema:
        return {v for v in schema["enum"] if isinstance(v, str)}
    values: set[str] = set()
    for option in schema.get("oneOf", []):
        values |= {v for v in option.get("enum", []) if isinstance(v, str)}
        if "const" in option:
            values.add(option["const"])
    return values


@pytest.mark.parametrize("name", ENUMS)
def test_every_enum_schema_has_the_same_values(name: str) -> None:
    found = _enums_by_name()
    assert name in found, f"spec enum {name} has no enum in porter_sandbox.enums"
    values = _enum_values(SCHEMAS[name])
    assert values, f"no values read from the spec for {name}"
    assert {m.value for m in found[name]} == values


def test_no_model_or_enum_is_missing_from_the_document() -> None:
    extra_models = set(_models_by_name()) - set(SCHEMAS)
    # Models of the official SDK that our API document has no schema of.
    assert extra_models <= {"ValidationError", "HTTPValidationError"}, extra_models
    extra_enums = set(_enums_by_name()) - set(SCHEMAS)
    assert extra_enums <= {"OutputStreamName"}, extra_enums
