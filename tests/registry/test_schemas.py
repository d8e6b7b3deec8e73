"""Schema parsing and validation, pure."""

from __future__ import annotations

import json

import pytest

from pipeline.registry.errors import InvalidSchema
from pipeline.registry.schemas import check_schema_type, identity, parse_avro
from tests.registry.helpers import field, record


def test_whitespace_and_key_order_do_not_change_identity() -> None:
    compact = record("O", field("id", "string"))
    spaced = json.dumps(
        {"fields": [{"type": "string", "name": "id"}], "name": "O", "type": "record"}, indent=4
    )
    assert identity(parse_avro(compact), ()) == identity(parse_avro(spaced), ())


def test_field_order_changes_identity() -> None:
    a = record("O", field("a", "int"), field("b", "int"))
    b = record("O", field("b", "int"), field("a", "int"))
    assert identity(parse_avro(a), ()) != identity(parse_avro(b), ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"type": "record", "name": "O", "fields": 3}), "Invalid Avro schema"),
        (record("O", field("a", "strin")), "strin"),
        (json.dumps({"type": "nope"}), "Invalid Avro schema"),
        (record("O", field("n", "int", default="zero")), "Invalid default for field 'n'"),
        (record("O", field("n", ["null", "int"], default=5)), "first branch is null"),
        (record("O", field("n", "boolean", default=1)), "Invalid default for field 'n'"),
        (record("O", field("n", "int", default=2**31)), "Invalid default for field 'n'"),
    ],
)
def test_invalid_schemas_name_the_problem(text: str, expected: str) -> None:
    with pytest.raises(InvalidSchema, match=expected):
        parse_avro(text)


def test_good_defaults_are_accepted() -> None:
    status = {"type": "enum", "name": "S", "symbols": ["A", "B"]}
    text = record(
        "O",
        field("n", ["null", "int"], default=None),
        field("l", "long", default=2**40),
        field("d", "double", default=1),
        field("b", "bytes", default="\u00ff"),
        field("s", status, default="B"),
        field("m", {"type": "map", "values": "int"}, default={"x": 1}),
        field("a", {"type": "array", "items": "string"}, default=["x"]),
    )
    assert parse_avro(text).name == "O"


def test_nested_default_is_checked_with_its_path() -> None:
    inner = {"type": "record", "name": "Inner", "fields": [field("x", "int", default="no")]}
    with pytest.raises(InvalidSchema, match=r"'outer\.x'"):
        parse_avro(record("O", field("outer", inner)))


def test_references_resolve_named_types() -> None:
    address = record("Address", field("city", "string"))
    order = record("O", field("ship_to", "Address"))
    assert parse_avro(order, [address]).fields[0].type.name == "Address"


def test_only_avro_is_accepted() -> None:
    check_schema_type("AVRO")
    with pytest.raises(InvalidSchema, match="'PROTOBUF' is not supported"):
        check_schema_type("PROTOBUF")
