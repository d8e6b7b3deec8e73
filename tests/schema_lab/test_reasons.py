"""Registry refusals worded as sentences (pure: the messages are what registries send)."""

from __future__ import annotations

import json

from pipeline.schema_lab.reasons import explain, field_at
from tests.paths import SCHEMAS

BREAKING = json.loads((SCHEMAS / "order_event.breaking.avsc").read_text())

# What this project's registry answers a 409 with (`registering in ...` is our client's).
OURS_409 = (
    "registering in 'orders-value': Schema being registered is incompatible with an earlier "
    "schema for subject 'orders-value', details: [{errorType:'TYPE_MISMATCH', description:'the "
    "new schema cannot read data written with version 1: a field's type changed in a way Avro "
    "cannot promote at field 'user_id' (/fields/3/type): reader type: long not compatible with "
    "writer type: string', additionalInfo:'reader type: long not compatible with writer type: "
    "string'}, {oldSchemaVersion: 1}, {compatibility: 'BACKWARD'}] (error 409)"
)
# Confluent's registry: no direction, the field only as a path, upper-case types.
CONFLUENTS = [
    "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/3/type') of a field in "
    "the new schema does not match with the old schema', additionalInfo:'reader type: LONG not "
    "compatible with writer type: STRING'}",
    "{oldSchemaVersion: 2}",
    "{compatibility: 'BACKWARD'}",
]
ENUM = (
    "{errorType:'MISSING_ENUM_SYMBOLS', description:'version 3 cannot read data written with "
    "the new schema: the writer has enum symbols the reader lacks and the reader enum has no "
    "default at field 'status' (/fields/4/type/symbols): {'CANCELLED'}', "
    "additionalInfo:'{'CANCELLED'}'}"
)


def test_a_type_change_names_the_field_both_types_and_the_version() -> None:
    assert explain([OURS_409]) == [
        "field 'user_id' is a string in version 1 but a long in the new schema, and Avro "
        "cannot promote string to long: the new schema cannot read data written with version 1"
    ]


def test_confluents_wording_gives_the_same_sentence() -> None:
    assert explain(CONFLUENTS, new_schema=BREAKING) == [
        "field 'user_id' is a string in version 2 but a long in the new schema, and Avro "
        "cannot promote string to long: the new schema cannot read data written with version 2"
    ]


def test_enum_symbols_and_the_old_schema_label() -> None:
    assert explain([ENUM]) == [
        "field 'status': the new schema has enum symbol(s) CANCELLED that version 3 lacks, and "
        "version 3's enum has no default: version 3 cannot read data written with the new schema"
    ]
    assert explain([ENUM], old_label="the old schema")[0].startswith(
        "field 'status': the new schema has enum symbol(s) CANCELLED that the old schema lacks"
    )


def test_a_missing_default_and_an_unknown_kind_still_name_the_field() -> None:
    missing = (
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'the new schema cannot "
        "read data written with version 1: a field the reader needs has no default and the "
        "writer does not have it at field 'amount' (/fields/7): amount', additionalInfo:'amount'}"
    )
    assert explain([missing]) == [
        "field 'amount' is in the new schema without a default and version 1 does not have it: "
        "the new schema cannot read data written with version 1"
    ]
    odd = (
        "{errorType:'NAME_MISMATCH, TYPE_MISMATCH', description:'version 1 cannot read data "
        "written with the new schema: two things at field 'a' (/fields/0): x', additionalInfo:'x'}"
    )
    assert explain([odd]) == [
        "field 'a': two things at field 'a' (/fields/0): x: version 1 cannot read data written "
        "with the new schema"
    ]


def test_messages_that_are_no_refusal_pass_through_on_one_line() -> None:
    assert explain(["the registry said\n  something else"]) == ["the registry said something else"]


def test_field_at_follows_nested_records() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "a", "type": "int"},
            {
                "name": "b",
                "type": {"type": "record", "name": "B", "fields": [{"name": "c", "type": "int"}]},
            },
        ],
    }
    assert field_at(schema, "/fields/1/type/fields/0/type") == "b.c"
    assert field_at(schema, "/fields/9") is None
