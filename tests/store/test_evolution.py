"""The store's evolution rules, as a pure function of (writer schema, table columns)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.store.admission import Column, Decision, Placement, decide
from pipeline.store.kinds import Kind
from tests.store.schemas import (
    NEW_WITHOUT_DEFAULT,
    USER_ID_AS_INT,
    V1,
    V2,
    V3_NO_SOURCE,
    WITH_QUANTITY_INT,
    evolve,
)

V1_KINDS = {
    "event_id": Kind.TEXT,
    "event_type": Kind.TEXT,
    "order_id": Kind.TEXT,
    "user_id": Kind.TEXT,
    "status": Kind.TEXT,
    "timestamp": Kind.TIMESTAMP,
    "source": Kind.TEXT,
}


def table(kinds: dict[str, Kind]) -> dict[str, Column]:
    return {name.lower(): Column(name, kind) for name, kind in kinds.items()}


def after_v1(**more: Kind) -> dict[str, Column]:
    return table({**V1_KINDS, **more})


def test_first_schema_defines_the_table_even_without_defaults() -> None:
    decision = decide(V1, table({"event_id": Kind.TEXT}), first=True)
    assert decision.accepted is True
    assert [c.name for c in decision.new_columns] == [
        "event_type",
        "order_id",
        "user_id",
        "status",
        "timestamp",
        "source",
    ]
    assert decision.placements[5] == Placement("timestamp", Kind.TIMESTAMP, Kind.TIMESTAMP)


# Strings and enum symbols are str as decoded; uuids are not (a full read's uuid.UUID).
V1_AS_DECODED = {"event_type", "user_id", "status", "source"}


def test_same_schema_again_fits_the_table_as_it_is() -> None:
    assert decide(V1, after_v1(), first=False) == Decision(
        True,
        "fits the table as it is",
        tuple(
            Placement(name, kind, kind, as_decoded=name in V1_AS_DECODED)
            for name, kind in V1_KINDS.items()
        ),
        (),
    )


def test_added_optional_fields_become_new_columns() -> None:
    decision = decide(V2, after_v1(), first=False)
    assert decision.accepted is True
    assert decision.new_columns == (Column("amount", Kind.REAL), Column("currency", Kind.TEXT))
    assert decision.reason == "adds columns amount (real), currency (text)"


def test_removed_field_leaves_its_column_empty() -> None:
    decision = decide(V3_NO_SOURCE, after_v1(), first=False)
    assert decision.accepted is True
    assert decision.new_columns == ()
    assert decision.reason == "leaves empty source"
    assert "source" not in [p.field for p in decision.placements]


def test_older_writer_after_newer_one_leaves_new_columns_empty() -> None:
    decision = decide(V1, after_v1(amount=Kind.REAL, currency=Kind.TEXT), first=False)
    assert decision.accepted is True
    assert decision.reason == "leaves empty amount, currency"


def test_changed_type_is_refused_naming_the_field() -> None:
    decision = decide(USER_ID_AS_INT, after_v1(), first=False)
    assert decision.accepted is False
    assert decision.reason == (
        "field 'user_id' changed type: the store keeps it as text, the writer sends int"
    )
    assert decision.new_columns == ()


def test_new_field_without_default_is_refused() -> None:
    decision = decide(NEW_WITHOUT_DEFAULT, after_v1(), first=False)
    assert decision.accepted is False
    assert decision.reason.startswith("field 'priority' is new and has no default")
    assert "NOT NULL" in decision.reason


def test_new_nullable_field_without_default_is_accepted() -> None:
    schema = evolve(V1, add=[{"name": "note", "type": ["null", "string"]}])
    decision = decide(schema, after_v1(), first=False)
    assert decision.accepted is True
    assert decision.new_columns == (Column("note", Kind.TEXT),)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
        ("double", "int"),  # the other direction: a REAL column holds ints
    ],
)
def test_promotions_are_accepted_without_a_column_change(old: str, new: str) -> None:
    existing = decide(evolve(V1, add=[{"name": "x", "type": old}]), after_v1(), first=True)
    columns = after_v1(**{c.name: c.kind for c in existing.new_columns})
    decision = decide(evolve(V1, add=[{"name": "x", "type": new}]), columns, first=False)
    assert decision.accepted is True
    assert decision.new_columns == ()
    placement = decision.placements[-1]
    assert (placement.field, placement.column) == ("x", existing.new_columns[0].kind)


def test_int_to_long_on_an_existing_column() -> None:
    columns = after_v1(quantity=Kind.INTEGER)
    with_long = evolve(WITH_QUANTITY_INT, retype={"quantity": "long"})
    assert decide(with_long, columns, first=False).accepted is True


@pytest.mark.parametrize(
    ("old", "new", "label"),
    [
        ("string", "int", "int"),
        ("boolean", "int", "int"),
        ("long", {"type": "long", "logicalType": "timestamp-millis"}, "long (timestamp-millis)"),
        ("string", {"type": "array", "items": "string"}, "array"),
        ("double", "string", "string"),
    ],
)
def test_incompatible_type_changes_are_refused(old: str, new: Any, label: str) -> None:
    kind = decide(evolve(V1, add=[{"name": "x", "type": old}]), after_v1(), first=True)
    columns = after_v1(x=kind.new_columns[0].kind)
    decision = decide(evolve(V1, add=[{"name": "x", "type": new}]), columns, first=False)
    assert decision.accepted is False
    assert decision.reason.endswith(f"the writer sends {label}")


def test_every_offending_field_is_named() -> None:
    schema = evolve(
        USER_ID_AS_INT,
        add=[{"name": "priority", "type": "int"}, {"name": "stored_at", "type": "string"}],
    )
    reason = decide(schema, after_v1(), first=False).reason
    assert "field 'user_id' changed type" in reason
    assert "field 'priority' is new and has no default" in reason
    assert "field 'stored_at' collides with the store's own column" in reason


def test_schema_without_event_id_is_refused() -> None:
    decision = decide(evolve(V1, drop=("event_id",)), after_v1(), first=False)
    assert decision.accepted is False
    assert decision.reason == "field 'event_id' is missing: the store keys every event by it"


def test_fields_differing_only_by_case_are_refused() -> None:
    schema = evolve(V1, add=[{"name": "User_Id", "type": "string", "default": ""}])
    decision = decide(schema, after_v1(), first=False)
    assert decision.accepted is False
    assert "field 'User_Id' differs from another field only by case" in decision.reason


def test_non_record_schema_is_refused() -> None:
    decision = decide("string", after_v1(), first=True)
    assert decision == Decision(
        False, "the writer schema is not a record: the store keeps one column per field"
    )


def test_unparseable_schema_is_refused() -> None:
    schema = evolve(V1, add=[{"name": "x", "type": "NoSuchType", "default": None}])
    decision = decide(schema, after_v1(), first=False)
    assert decision.accepted is False
    assert decision.reason.startswith("the writer schema cannot be parsed")


def test_named_types_defined_once_and_referenced_later() -> None:
    schema = evolve(
        V1, add=[{"name": "previous_status", "type": ["null", "OrderStatus"], "default": None}]
    )
    decision = decide(schema, after_v1(), first=False)
    assert decision.new_columns == (Column("previous_status", Kind.TEXT),)
