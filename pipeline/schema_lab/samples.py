"""Sample records for any Avro schema, so an experiment can write real data with it.

Record `i` takes enum symbol `i mod n` and union branch `i mod n`, so a handful of
records covers every symbol and branch (a new enum symbol is always exercised).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

_EPOCH_2026 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def sample_records(schema: dict[str, Any], count: int) -> Iterator[dict[str, Any]]:
    named: dict[str, Any] = {}
    for i in range(count):
        yield _value(schema, i, named)


def sample_value(schema: Any, i: int, named: dict[str, Any]) -> Any:
    """Value number `i` of any Avro type; `named` holds the named types seen so far."""
    return _value(schema, i, named)


def named_types(schema: Any) -> dict[str, Any]:
    """Every named type `schema` defines, by name and full name (for `sample_value`)."""
    named: dict[str, Any] = {}
    next(sample_records(schema, 1), None)  # walking one sample visits every definition
    _collect(schema, named)
    return named


def _collect(schema: Any, named: dict[str, Any]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            _remember(schema, named)
        for field in schema.get("fields", []):
            _collect(field.get("type"), named)
        for inner in ("items", "values"):
            if inner in schema:
                _collect(schema[inner], named)


def _value(schema: Any, i: int, named: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return _value(schema[i % len(schema)], i, named)
    if isinstance(schema, str):
        return _named_or_primitive(schema, i, named)
    kind = schema["type"]
    if kind == "record":
        _remember(schema, named)
        return {f["name"]: _value(f["type"], i, named) for f in schema["fields"]}
    if kind == "enum":
        _remember(schema, named)
        return schema["symbols"][i % len(schema["symbols"])]
    if kind == "fixed":
        _remember(schema, named)
        return bytes([i % 256]) * int(schema["size"])
    if kind == "array":
        return [_value(schema["items"], i + k, named) for k in range(i % 3)]
    if kind == "map":
        return {f"k{k}": _value(schema["values"], i + k, named) for k in range(i % 3)}
    return _logical(schema, i) if "logicalType" in schema else _value(kind, i, named)


def _named_or_primitive(name: str, i: int, named: dict[str, Any]) -> Any:
    primitives: dict[str, Any] = {
        "null": None,
        "boolean": i % 2 == 0,
        "int": i,
        "long": 1_000_000_000_000 + i,
        "float": i + 0.5,
        "double": i + 0.25,
        "bytes": f"b{i}".encode(),
        "string": f"s{i}",
    }
    if name in primitives:
        return primitives[name]
    return _value(named[name], i, named)


def _logical(schema: dict[str, Any], i: int) -> Any:
    logical = schema["logicalType"]
    if logical == "uuid":
        return str(uuid.UUID(int=i + 1))
    if logical in ("timestamp-millis", "timestamp-micros"):
        return _EPOCH_2026 + dt.timedelta(seconds=i)
    if logical == "date":
        return (_EPOCH_2026 + dt.timedelta(days=i)).date()
    return _named_or_primitive(schema["type"], i, {})


def _remember(schema: dict[str, Any], named: dict[str, Any]) -> None:
    name = schema["name"]
    named[name] = schema
    if schema.get("namespace"):
        named[f"{schema['namespace']}.{name}"] = schema
