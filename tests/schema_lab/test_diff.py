from __future__ import annotations

import json
from typing import Any

from pipeline.schema_lab.diff import describe, diff, type_name
from tests.paths import REPO_ROOT as PROJECT_ROOT


def schema_file(name: str) -> dict[str, Any]:
    return json.loads((PROJECT_ROOT / "schemas" / f"order_event.{name}.avsc").read_text())


def record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields)}


def test_v2_adds_two_optional_fields() -> None:
    assert describe(diff(schema_file("v1"), schema_file("v2"))) == [
        "field amount added: null | double, default null",
        'field currency added: string, default "EUR"',
    ]


def test_v3_adds_an_enum_symbol_old_readers_cannot_read() -> None:
    assert describe(diff(schema_file("v2"), schema_file("v3"))) == [
        "enum OrderStatus of field status: symbols added CANCELLED "
        "(the old enum has no default, so old readers fail on it)"
    ]


def test_breaking_changes_a_type() -> None:
    assert describe(diff(schema_file("v2"), schema_file("breaking"))) == [
        "field user_id type changed string → long (not a promotion)"
    ]


def test_removed_field_promotion_default_and_alias_changes() -> None:
    old = record(
        {"name": "a", "type": "int"},
        {"name": "gone", "type": "string"},
        {"name": "d", "type": "string", "default": "x"},
        {"name": "old_name", "type": "string"},
    )
    new = record(
        {"name": "a", "type": "long"},
        {"name": "d", "type": "string", "default": "y", "aliases": ["dee"]},
        {"name": "new_name", "type": "string", "aliases": ["old_name"]},
    )
    assert describe(diff(old, new)) == [
        "field a type int → long (an Avro promotion: old data still reads)",
        'field d default "x" → "y"',
        "field d aliases: added dee",
        "field old_name renamed to new_name (alias 'old_name' kept)",
        "field gone removed (string; it had no default)",
    ]


def test_rename_without_alias_reads_as_remove_and_add() -> None:
    old = record({"name": "email", "type": "string"})
    new = record({"name": "mail", "type": "string"})
    assert describe(diff(old, new)) == [
        "field mail added: string, no default (old data cannot fill it)",
        "field email removed (string; it had no default)",
    ]


def test_nested_records_are_walked_by_path() -> None:
    inner_old = record({"name": "city", "type": "string"}, name="Address")
    inner_new = record(
        {"name": "city", "type": "string"},
        {"name": "zip", "type": "string", "default": ""},
        name="Address",
    )
    old = record({"name": "address", "type": inner_old})
    new = record({"name": "address", "type": inner_new})
    assert describe(diff(old, new)) == ['field address.zip added: string, default ""']


def test_identical_schemas_have_no_differences() -> None:
    assert describe(diff(schema_file("v1"), schema_file("v1"))) == ["no differences"]


def test_type_names_read_naturally() -> None:
    assert (
        type_name({"type": "long", "logicalType": "timestamp-millis"}) == "long (timestamp-millis)"
    )
    assert type_name(["null", {"type": "array", "items": "string"}]) == "null | array of string"
    assert type_name({"type": "enum", "name": "S", "symbols": ["A"]}) == "enum S"
