"""The project's Avro schema files, as the package carries them, and reading one safely.

`schemas/` at the repository root is what users and the README work with; the package
holds a copy (`pipeline/schemas/`, kept identical by a test) so that an installed
`order-pipeline` finds its schemas without the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import avro.schema
from fastavro import parse_schema

from pipeline.errors import SchemaError

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
ORDER_EVENT_V1 = SCHEMAS_DIR / "order_event.v1.avsc"
ORDER_EVENT_V2 = SCHEMAS_DIR / "order_event.v2.avsc"
ORDER_EVENT_V3 = SCHEMAS_DIR / "order_event.v3.avsc"
ORDER_EVENT_BREAKING = SCHEMAS_DIR / "order_event.breaking.avsc"
ORDER_ALERT = SCHEMAS_DIR / "order_alert.v1.avsc"
ORDER_STATS = SCHEMAS_DIR / "order_stats.v1.avsc"
_REASON_CHARS = 200


def load_schema_file(path: Path) -> str:
    """The schema file's text, checked to be JSON and valid Avro for both parsers we use
    (Apache Avro's, as the registry checks it, and fastavro's, which encodes with it)."""
    try:
        text = path.read_text(encoding="utf-8")
        definition = json.loads(text)
        # fastavro raises KeyError/TypeError/... on some non-schemas: anything it or Avro's
        # own parser raises means "not a schema", never a traceback.
        avro.schema.parse(text)
        parse_schema(definition)
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc.strerror}") from exc
    except Exception as exc:  # bad JSON or UTF-8, bad Avro, nesting too deep
        raise SchemaError(f"{path} is not a valid Avro schema: {_reason(exc)}") from exc
    empty = _empty_type(definition)
    if empty:
        raise SchemaError(f"{path} is not a usable Avro schema: {empty}")
    return text


def load_record_schema(path: Path) -> dict[str, Any]:
    """A schema file whose top level is a record (what order events, diff and produce need)."""
    definition = json.loads(load_schema_file(path))
    if not isinstance(definition, dict) or definition.get("type") != "record":
        kind = definition.get("type") if isinstance(definition, dict) else definition
        shown = "a union" if isinstance(kind, list) else f"of type {json.dumps(kind)}"
        raise SchemaError(f"{path} is an Avro schema {shown}, not a record")
    return definition


def _empty_type(schema: Any) -> str | None:
    """Why `schema` has a part no value fits (a union without branches, an enum without
    symbols), or None."""
    if isinstance(schema, list):
        if not schema:
            return "a union with no branches ([]) can hold no value"
        return next((found for s in schema if (found := _empty_type(s))), None)
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if kind == "enum" and not schema.get("symbols"):
        return f"enum {schema.get('name')} has no symbols, so it can hold no value"
    if kind == "record":
        for field in schema.get("fields", []):
            found = _empty_type(field.get("type"))
            if found:
                return f"field {field.get('name')}: {found}"
        return None
    inner = schema.get("items", schema.get("values", kind))
    return _empty_type(inner) if not isinstance(inner, str) else None


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."
