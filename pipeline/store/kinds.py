"""How an Avro field type is kept in a column: its storage kind (pure functions).

A *kind* is what the store promises about a column's values, coarser than Avro's types:
int and long are both `integer` (SQLite integers are 64-bit), a string, an enum symbol and a
uuid are all `text`. Nullable unions take the kind of their one non-null branch; every
column is nullable anyway, because events of older schema versions may lack the field.

Timestamps are kept as ISO-8601 UTC text with a trailing `Z` (e.g.
`2024-05-01T12:00:00.123Z`): a person reading the file in the sqlite3 shell or Datasette sees
a time, the text sorts chronologically, and SQLite's own date functions (`strftime`,
`datetime`) read it directly, which integer milliseconds would make every query convert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    BOOLEAN = "boolean"
    INTEGER = "integer"
    REAL = "real"
    TEXT = "text"
    BYTES = "bytes"
    TIMESTAMP = "timestamp"
    DATE = "date"
    TIME = "time"
    DECIMAL = "decimal"
    JSON = "json"  # records, arrays, maps and many-branch unions, kept as JSON text


SQL_TYPE: dict[Kind, str] = {
    Kind.BOOLEAN: "INTEGER",
    Kind.INTEGER: "INTEGER",
    Kind.REAL: "REAL",
    Kind.TEXT: "TEXT",
    Kind.BYTES: "BLOB",
    Kind.TIMESTAMP: "TEXT",
    Kind.DATE: "TEXT",
    Kind.TIME: "TEXT",
    Kind.DECIMAL: "TEXT",
    Kind.JSON: "TEXT",
}

# PostgreSQL keeps each column in one type: native types, so its own functions apply.
PG_TYPE: dict[Kind, str] = {
    Kind.BOOLEAN: "boolean",
    Kind.INTEGER: "bigint",
    Kind.REAL: "double precision",
    Kind.TEXT: "text",
    Kind.BYTES: "bytea",
    Kind.TIMESTAMP: "timestamptz",
    Kind.DATE: "date",
    Kind.TIME: "time",
    Kind.DECIMAL: "numeric",
    Kind.JSON: "jsonb",
}

# The Avro specification's promotions (int→long/float/double, long→float/double,
# float→double, string↔bytes) keep a value inside one of these groups. The store accepts a
# move within a group in either direction: SQLite keeps each value with its own storage
# class, so an INTEGER column holds a double losslessly and a REAL column holds an int.
_PROMOTABLE: tuple[frozenset[Kind], ...] = (
    frozenset({Kind.INTEGER, Kind.REAL}),
    frozenset({Kind.TEXT, Kind.BYTES}),
)

_PRIMITIVE: dict[str, Kind] = {
    "boolean": Kind.BOOLEAN,
    "int": Kind.INTEGER,
    "long": Kind.INTEGER,
    "float": Kind.REAL,
    "double": Kind.REAL,
    "string": Kind.TEXT,
    "bytes": Kind.BYTES,
}

# Logical types the decoder applies, by (logicalType, underlying type).
_LOGICAL: dict[tuple[str, str], Kind] = {
    ("timestamp-millis", "long"): Kind.TIMESTAMP,
    ("timestamp-micros", "long"): Kind.TIMESTAMP,
    ("local-timestamp-millis", "long"): Kind.TIMESTAMP,
    ("local-timestamp-micros", "long"): Kind.TIMESTAMP,
    ("date", "int"): Kind.DATE,
    ("time-millis", "int"): Kind.TIME,
    ("time-micros", "long"): Kind.TIME,
    ("uuid", "string"): Kind.TEXT,
    ("decimal", "bytes"): Kind.DECIMAL,
    ("decimal", "fixed"): Kind.DECIMAL,
}

_COMPLEX: dict[str, Kind] = {
    "record": Kind.JSON,
    "error": Kind.JSON,
    "array": Kind.JSON,
    "map": Kind.JSON,
    "enum": Kind.TEXT,
    "fixed": Kind.BYTES,
}


@dataclass(frozen=True, slots=True)
class FieldType:
    """A field's storage kind, whether null is a legal value, and Avro's name for its type."""

    kind: Kind
    nullable: bool
    label: str


def field_type(avro_type: Any) -> FieldType:
    """The storage kind of an Avro type. Named references must already be expanded."""
    if isinstance(avro_type, list):
        return _union_type(avro_type)
    kind, label = _single_kind(avro_type)
    return FieldType(kind, avro_type == "null", label)


def decodes_to_text(avro_type: Any) -> bool:
    """Is every value an Avro decoder yields for this type a str, or None? A string and an
    enum symbol are; a uuid is not (a full read makes it a `uuid.UUID`), nor is any other
    logical type, whichever way a decoder reads it."""
    if isinstance(avro_type, list):
        non_null = [branch for branch in avro_type if branch != "null"]
        return len(non_null) == 1 and decodes_to_text(non_null[0])
    if isinstance(avro_type, dict):
        if "logicalType" in avro_type:
            return False
        kind = avro_type.get("type")
        return kind == "enum" or (isinstance(kind, str) and decodes_to_text(kind))
    return avro_type == "string"


def compatible(column: Kind, writer: Kind, *, typed: bool = False) -> bool:
    """Can values of the writer's kind go into a column of this kind without changing it?

    `typed`: the column holds one type (PostgreSQL), so a real value cannot go into an
    integer column; SQLite keeps each value's own storage class, so either way is lossless.
    """
    if typed and (column, writer) == (Kind.INTEGER, Kind.REAL):
        return False
    return column == writer or any({column, writer} <= group for group in _PROMOTABLE)


def _union_type(branches: list[Any]) -> FieldType:
    non_null = [branch for branch in branches if branch != "null"]
    nullable = len(non_null) < len(branches)
    if len(non_null) == 1:
        kind, label = _single_kind(non_null[0])
        return FieldType(kind, nullable, f"{label} (nullable)" if nullable else label)
    labels = " | ".join(_single_kind(branch)[1] for branch in branches)
    return FieldType(Kind.JSON, nullable, f"union of {labels}")


def _single_kind(avro_type: Any) -> tuple[Kind, str]:
    if isinstance(avro_type, str):
        if avro_type == "null":
            return Kind.JSON, "null"
        return _PRIMITIVE.get(avro_type, Kind.JSON), avro_type
    if isinstance(avro_type, dict):
        base = avro_type.get("type")
        logical = avro_type.get("logicalType")
        if isinstance(base, str) and isinstance(logical, str) and (logical, base) in _LOGICAL:
            return _LOGICAL[(logical, base)], f"{base} ({logical})"
        if isinstance(base, str) and base in _COMPLEX:
            return _COMPLEX[base], base
        return _single_kind(base)
    if isinstance(avro_type, list):
        union = _union_type(avro_type)
        return union.kind, union.label
    return Kind.JSON, repr(avro_type)
