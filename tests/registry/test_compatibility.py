"""The compatibility function, pure: every level, transitive or not, and what it says."""

from __future__ import annotations

import pytest

from pipeline.registry.compatibility import Existing, Level, check
from pipeline.registry.schemas import parse_avro
from tests.registry.helpers import field, record

ID = field("id", "string")
V1 = record("Order", ID)
WITH_NOTE = record("Order", ID, field("note", "string", default=""))
WITH_EMAIL = record("Order", ID, field("email", "string"))
WITH_QTY = record("Order", ID, field("qty", "int"))
QTY_DEFAULT = record("Order", ID, field("qty", "int", default=0))
NOTE_REQUIRED = record("Order", ID, field("note", "string"))
COUNT_INT = record("Order", field("count", "int"))
COUNT_LONG = record("Order", field("count", "long"))
ID_INT = record("Order", field("id", "int"))


def history(*texts: str) -> list[Existing]:
    return [Existing(number, parse_avro(text)) for number, text in enumerate(texts, start=1)]


# (level, existing versions oldest first, new schema, compatible?)
CASES = [
    # An optional field added: fine in every direction.
    *[(level, [V1], WITH_NOTE, True) for level in Level],
    # A required field added: old data lacks it, so only FORWARD-ish levels accept it.
    (Level.BACKWARD, [V1], WITH_EMAIL, False),
    (Level.BACKWARD_TRANSITIVE, [V1], WITH_EMAIL, False),
    (Level.FORWARD, [V1], WITH_EMAIL, True),
    (Level.FORWARD_TRANSITIVE, [V1], WITH_EMAIL, True),
    (Level.FULL, [V1], WITH_EMAIL, False),
    (Level.FULL_TRANSITIVE, [V1], WITH_EMAIL, False),
    (Level.NONE, [V1], WITH_EMAIL, True),
    # A field without default removed: old readers need it.
    (Level.BACKWARD, [WITH_QTY], V1, True),
    (Level.FORWARD, [WITH_QTY], V1, False),
    (Level.FULL, [WITH_QTY], V1, False),
    # int -> long is a promotion for readers of the new schema only.
    (Level.BACKWARD, [COUNT_INT], COUNT_LONG, True),
    (Level.FORWARD, [COUNT_INT], COUNT_LONG, False),
    (Level.FULL, [COUNT_INT], COUNT_LONG, False),
    (Level.NONE, [COUNT_INT], ID_INT, True),
    # Transitive levels look past the latest version.
    (Level.BACKWARD, [V1, WITH_NOTE], NOTE_REQUIRED, True),
    (Level.BACKWARD_TRANSITIVE, [V1, WITH_NOTE], NOTE_REQUIRED, False),
    (Level.FULL, [V1, WITH_NOTE], NOTE_REQUIRED, True),
    (Level.FULL_TRANSITIVE, [V1, WITH_NOTE], NOTE_REQUIRED, False),
    (Level.FORWARD, [WITH_QTY, QTY_DEFAULT], V1, True),
    (Level.FORWARD_TRANSITIVE, [WITH_QTY, QTY_DEFAULT], V1, False),
]


@pytest.mark.parametrize(("level", "existing", "new", "expected"), CASES)
def test_levels(level: Level, existing: list[str], new: str, expected: bool) -> None:
    result = check(history(*existing), parse_avro(new), level)
    assert result.compatible is expected
    assert (result.messages == ()) is expected


def test_level_properties() -> None:
    assert [lvl.value for lvl in Level if lvl.transitive] == [
        "BACKWARD_TRANSITIVE",
        "FORWARD_TRANSITIVE",
        "FULL_TRANSITIVE",
    ]
    assert (Level.FULL.backward, Level.FULL.forward) == (True, True)
    assert (Level.BACKWARD.backward, Level.BACKWARD.forward) == (True, False)
    assert (Level.FORWARD.backward, Level.FORWARD.forward) == (False, True)
    assert (Level.NONE.backward, Level.NONE.forward) == (False, False)


def test_no_existing_version_is_always_compatible() -> None:
    assert check([], parse_avro(ID_INT), Level.FULL_TRANSITIVE).compatible is True


def test_missing_default_names_the_field_and_version() -> None:
    result = check(history(V1), parse_avro(WITH_EMAIL), Level.BACKWARD)
    first = result.messages[0]
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in first
    assert "field 'email' (/fields/1)" in first
    assert "{oldSchemaVersion: 1}" in result.messages
    assert result.messages[-1] == "{compatibility: 'BACKWARD'}"


def test_type_change_names_field_and_both_types() -> None:
    result = check(history(V1), parse_avro(ID_INT), Level.FULL)
    backward, forward = result.messages[0], result.messages[1]
    assert "TYPE_MISMATCH" in backward and "field 'id' (/fields/0/type)" in backward
    assert "reader type: int not compatible with writer type: string" in backward
    assert "version 1 cannot read data written with the new schema" in forward


def test_transitive_reports_the_old_version_that_breaks() -> None:
    result = check(history(V1, WITH_NOTE), parse_avro(NOTE_REQUIRED), Level.BACKWARD_TRANSITIVE)
    assert "{oldSchemaVersion: 1}" in result.messages
    assert "{oldSchemaVersion: 2}" not in result.messages


def test_enum_symbol_removed_is_reported() -> None:
    status = {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}
    fewer = {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}
    old, new = record("O", field("s", status)), record("O", field("s", fewer))
    result = check(history(old), parse_avro(new), Level.BACKWARD)
    assert result.compatible is False
    assert "MISSING_ENUM_SYMBOLS" in result.messages[0]
    assert "SHIPPED" in result.messages[0]
