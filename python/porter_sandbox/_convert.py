"""Small conversions between the Python surface and the native module (no behaviour)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from ._models import BaseModel

def body(value: BaseModel | Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A request body: a model as its wire dict (``None`` fields left out), a dict as is."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, Mapping):
        return value
    raise TypeError(f"body must be a {name} or a dict, not {type(value).__name__}")


def wire(value: str | Enum | None) -> str | None:
    """The wire value of a query parameter: an enum member's value, a string as is."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def wire_str(value: str | Enum) -> str:
    """The wire value of a required query parameter."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def wires(values: Iterable[str | Enum] | None) -> list[str] | None:
    """The wire values of a repeated query parameter."""
    if values is None:
        return None
    if isinstance(values, (str, Enum)):
        values = [values]
    return [str(v.value) if isinstance(v, Enum) else str(v) for v in values]


def strings(values: Iterable[str] | None) -> list[str] | None:
    """A repeated string query parameter."""
    if values is None:
        return None
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


def _trim_fraction(text: str) -> str:
    """At most 6 fractional digits (Python 3.10's ``fromisoformat`` takes no more)."""
    dot = text.find(".")
    if dot < 0:
        return text
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    return text[: min(end, dot + 7)] + text[end:]


def parse_timestamp(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp (``Z`` accepted) as an aware datetime; ``None`` when empty or
    unparsable."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _trim_fraction(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def non_negative(name: str, value: int | None) -> int | None:
    """``value`` unchanged, after checking it is a whole number that is not negative."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value
