"""Avro type → storage kind → SQLite column type, and which kinds a column accepts."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.store.kinds import SQL_TYPE, FieldType, Kind, compatible, decodes_to_text, field_type


@pytest.mark.parametrize(
    ("avro_type", "expected"),
    [
        ("boolean", FieldType(Kind.BOOLEAN, False, "boolean")),
        ("int", FieldType(Kind.INTEGER, False, "int")),
        ("long", FieldType(Kind.INTEGER, False, "long")),
        ("float", FieldType(Kind.REAL, False, "float")),
        ("double", FieldType(Kind.REAL, False, "double")),
        ("string", FieldType(Kind.TEXT, False, "string")),
        ("bytes", FieldType(Kind.BYTES, False, "bytes")),
        ({"type": "string", "logicalType": "uuid"}, FieldType(Kind.TEXT, False, "string (uuid)")),
        (
            {"type": "long", "logicalType": "timestamp-millis"},
            FieldType(Kind.TIMESTAMP, False, "long (timestamp-millis)"),
        ),
        (
            {"type": "long", "logicalType": "timestamp-micros"},
            FieldType(Kind.TIMESTAMP, False, "long (timestamp-micros)"),
        ),
        ({"type": "int", "logicalType": "date"}, FieldType(Kind.DATE, False, "int (date)")),
        (
            {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            FieldType(Kind.DECIMAL, False, "bytes (decimal)"),
        ),
        # A logical type on the wrong base is ignored by decoders, and so here.
        ({"type": "string", "logicalType": "date"}, FieldType(Kind.TEXT, False, "string")),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, FieldType(Kind.TEXT, False, "enum")),
        ({"type": "fixed", "name": "F", "size": 4}, FieldType(Kind.BYTES, False, "fixed")),
        ({"type": "array", "items": "int"}, FieldType(Kind.JSON, False, "array")),
        ({"type": "map", "values": "string"}, FieldType(Kind.JSON, False, "map")),
        ({"type": "record", "name": "R", "fields": []}, FieldType(Kind.JSON, False, "record")),
        (["null", "string"], FieldType(Kind.TEXT, True, "string (nullable)")),
        (["double", "null"], FieldType(Kind.REAL, True, "double (nullable)")),
        (["null", "int", "string"], FieldType(Kind.JSON, True, "union of null | int | string")),
    ],
)
def test_field_type_maps_avro_types(avro_type: Any, expected: FieldType) -> None:
    assert field_type(avro_type) == expected


def test_sql_types_are_sqlite_storage_classes() -> None:
    assert SQL_TYPE[Kind.INTEGER] == "INTEGER"
    assert SQL_TYPE[Kind.BOOLEAN] == "INTEGER"
    assert SQL_TYPE[Kind.REAL] == "REAL"
    assert SQL_TYPE[Kind.BYTES] == "BLOB"
    assert {SQL_TYPE[k] for k in (Kind.TEXT, Kind.TIMESTAMP, Kind.DECIMAL, Kind.JSON)} == {"TEXT"}
    assert set(SQL_TYPE) == set(Kind)


@pytest.mark.parametrize(
    ("column", "writer"),
    [
        (Kind.INTEGER, Kind.INTEGER),
        (Kind.INTEGER, Kind.REAL),  # int column, writer now sends double: widened
        (Kind.REAL, Kind.INTEGER),  # double column, writer sends int: Avro's promotion
        (Kind.TEXT, Kind.BYTES),
        (Kind.BYTES, Kind.TEXT),
        (Kind.TIMESTAMP, Kind.TIMESTAMP),
    ],
)
def test_compatible_kinds(column: Kind, writer: Kind) -> None:
    assert compatible(column, writer) is True


@pytest.mark.parametrize(
    ("column", "writer"),
    [
        (Kind.TEXT, Kind.INTEGER),
        (Kind.INTEGER, Kind.TEXT),
        (Kind.BOOLEAN, Kind.INTEGER),
        (Kind.TIMESTAMP, Kind.INTEGER),
        (Kind.TEXT, Kind.JSON),
        (Kind.DECIMAL, Kind.REAL),
    ],
)
def test_incompatible_kinds(column: Kind, writer: Kind) -> None:
    assert compatible(column, writer) is False


@pytest.mark.parametrize(
    ("avro_type", "expected"),
    [
        ("string", True),
        ({"type": "string"}, True),
        ({"type": "enum", "name": "S", "symbols": ["A"]}, True),
        (["null", "string"], True),
        (["string", "null"], True),
        (["null", {"type": "enum", "name": "S", "symbols": ["A"]}], True),
        ({"type": "string", "logicalType": "uuid"}, False),  # a full read: uuid.UUID
        (["null", {"type": "string", "logicalType": "uuid"}], False),
        (["null", "string", "long"], False),
        ("bytes", False),
        ("long", False),
        ({"type": "record", "name": "R", "fields": []}, False),
    ],
)
def test_which_types_decode_to_text_as_they_are(avro_type: object, expected: bool) -> None:
    assert decodes_to_text(avro_type) is expected
