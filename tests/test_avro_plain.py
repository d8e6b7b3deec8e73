"""Which fields a plain read takes the logical type off (pure)."""

from __future__ import annotations

import pytest

from pipeline.avro_plain import Plain, plain_schema

UUID = {"type": "string", "logicalType": "uuid"}
MILLIS = {"type": "long", "logicalType": "timestamp-millis"}


def test_only_the_records_own_uuid_and_timestamp_millis_fields_are_read_plain() -> None:
    nested = {"type": "record", "name": "Inner", "fields": [{"name": "id", "type": UUID}]}
    definition = {
        "type": "record",
        "name": "Outer",
        "fields": [
            {"name": "id", "type": UUID, "doc": "kept"},
            {"name": "at", "type": MILLIS},
            {"name": "status", "type": {"type": "enum", "name": "S", "symbols": ["A"]}},
            {"name": "micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "maybe", "type": ["null", UUID]},
            {"name": "inner", "type": nested},
            {"name": "odd", "type": {"type": "long", "logicalType": "uuid"}},
        ],
    }
    read, plain = plain_schema(definition)
    assert plain == Plain(uuids=("id",), times=("at",))
    assert read["fields"][0] == {"name": "id", "type": "string", "doc": "kept"}
    assert read["fields"][1] == {"name": "at", "type": "long"}
    assert read["fields"][2:] == definition["fields"][2:]
    assert definition["fields"][0]["type"] is UUID  # the definition itself is left alone


def test_a_definition_that_is_not_a_record_comes_back_as_it_is() -> None:
    assert plain_schema("string") == ("string", Plain())
    assert plain_schema(UUID) == (UUID, Plain())


def test_check_makes_uuids_canonical_and_refuses_what_a_full_read_refuses() -> None:
    plain = Plain(uuids=("id",), times=("at",))
    value = {"id": "A0B1C2D3E4F54789ABCDEF0123456789", "at": 0}
    plain.check(value)
    assert value["id"] == "a0b1c2d3-e4f5-4789-abcd-ef0123456789"
    with pytest.raises(ValueError):
        plain.check({"id": "nope", "at": 0})
    with pytest.raises(OverflowError):
        plain.check({"id": value["id"], "at": 253_402_300_800_000})
