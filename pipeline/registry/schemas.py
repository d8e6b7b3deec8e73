"""Schema text → a parsed, validated Avro schema, and the identity used to spot duplicates.

Only AVRO is accepted. Apache's `avro` package parses; it does not check that a field's
default matches the field's type, so that check is done here (a wrong default is the most
common mistake in an evolving schema, and Avro readers fail on it much later).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import avro.errors
import avro.name
import avro.schema

from pipeline.registry.errors import InvalidSchema

AVRO = "AVRO"
SUPPORTED_TYPES = (AVRO,)
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, kw_only=True)
class Reference:
    """A named type this schema takes from another subject's version (Confluent references)."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


def check_schema_type(schema_type: str) -> None:
    if schema_type not in SUPPORTED_TYPES:
        raise InvalidSchema(
            f"Schema type '{schema_type}' is not supported; this registry accepts AVRO only"
        )


def parse_avro(text: str, dependencies: Sequence[str] = ()) -> avro.schema.Schema:
    """Parse schema text; `dependencies` are the texts of referenced schemas, innermost first."""
    try:
        return parse_checked(text, dependencies)
    except RecursionError:
        # The JSON decoder, the parser and the default check all recurse per level.
        raise InvalidSchema("Invalid schema: it nests too deeply to be parsed") from None


def parse_checked(text: str, dependencies: Sequence[str]) -> avro.schema.Schema:
    names = avro.name.Names()
    try:
        for dependency in dependencies:
            avro.schema.make_avsc_object(json.loads(dependency), names)
    except (ValueError, avro.errors.AvroException) as exc:
        raise InvalidSchema(f"Invalid schema: a referenced schema does not parse: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidSchema(f"Invalid schema: not JSON: {exc}") from exc
    try:
        parsed = avro.schema.make_avsc_object(data, names)
    # The parser raises AvroException for most problems, and plain Python errors for
    # some malformed shapes (a number where a list belongs): all mean "not valid Avro".
    except (avro.errors.AvroException, TypeError, AttributeError, KeyError, ValueError) as exc:
        raise InvalidSchema(f"Invalid Avro schema: {exc}") from exc
    check_defaults(parsed)
    return parsed


def identity(parsed: avro.schema.Schema, references: Sequence[Reference]) -> str:
    """Equal for schemas that differ only in whitespace or key order: Confluent's "same schema"."""
    canonical = json.dumps(parsed.to_json(), sort_keys=True, separators=(",", ":"))
    if not references:
        return canonical
    refs = json.dumps([r.to_json() for r in references], sort_keys=True, separators=(",", ":"))
    return f"{canonical}|{refs}"


def normalized_text(parsed: avro.schema.Schema) -> str:
    """The compact form stored when a client asks for `normalize=true`."""
    return json.dumps(parsed.to_json(), separators=(",", ":"))


def check_defaults(schema: avro.schema.Schema) -> None:
    """Raise InvalidSchema naming the first record field whose default does not fit its type."""
    seen: set[int] = set()

    def walk(node: avro.schema.Schema, path: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, avro.schema.RecordSchema):
            for field in node.fields:
                where = f"{path}.{field.name}" if path else field.name
                if field.has_default and not default_fits(field.type, field.default):
                    raise InvalidSchema(
                        f"Invalid default for field '{where}': {json.dumps(field.default)} "
                        f"is not a {describe_type(field.type)}"
                    )
                walk(field.type, where)
        for child in children(node):
            walk(child, path)

    walk(schema, "")


def children(node: avro.schema.Schema) -> list[avro.schema.Schema]:
    if isinstance(node, avro.schema.ArraySchema):
        return [node.items]
    if isinstance(node, avro.schema.MapSchema):
        return [node.values]
    if isinstance(node, avro.schema.UnionSchema):
        return list(node.schemas)
    return []


def describe_type(node: avro.schema.Schema) -> str:
    if isinstance(node, avro.schema.UnionSchema):
        first = node.schemas[0].type if node.schemas else "nothing"
        return f"union whose first branch is {first} (a union default matches its first branch)"
    return str(node.type)


def default_fits(node: avro.schema.Schema, value: object) -> bool:
    """Whether a JSON default value is valid for a type, per the Avro specification."""
    kind = node.type
    if isinstance(node, avro.schema.UnionSchema):
        return bool(node.schemas) and default_fits(node.schemas[0], value)
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        low, high = INT_RANGE if kind == "int" else LONG_RANGE
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("string", "bytes", "fixed"):
        return isinstance(value, str)
    if isinstance(node, avro.schema.EnumSchema):
        return value in node.symbols
    if isinstance(node, avro.schema.ArraySchema):
        return isinstance(value, list) and all(default_fits(node.items, v) for v in value)
    if isinstance(node, avro.schema.MapSchema):
        return isinstance(value, dict) and all(default_fits(node.values, v) for v in value.values())
    if isinstance(node, avro.schema.RecordSchema):
        return isinstance(value, dict) and all(
            default_fits(f.type, value[f.name]) if f.name in value else f.has_default
            for f in node.fields
        )
    return True
