"""Can the audit store's `events` table take events written with this schema? (pure)

The table plays the part of Avro's *reader schema*: every column is nullable and knows its
storage kind. A writer schema is accepted when each of its fields either lands in an existing
column of a compatible kind (same kind, or a promotion: see `kinds.compatible`) or can become
a new nullable column. Columns the writer lacks are simply left NULL in its rows.

It is refused, with every offending field named, when a field changed kind (e.g. text to
integer), when a new field has no default and is not nullable (the writer promises a value in
every event, which only a NOT NULL column could keep, but the rows already stored and events
of older versions have none), or when a field's name collides with the store's own columns.
A refused schema changes nothing: the caller alters the table only for accepted ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastavro.schema import SchemaParseException, expand_schema

from pipeline.store.kinds import Kind, compatible, decodes_to_text, field_type

KEY = "event_id"
# Columns the store fills itself; a schema field with one of these names is refused.
# Kafka coordinates carry the topic's id (a topic created again under its name starts its
# offsets over), and a schema id the registry's (two registries both hand out id 1).
META_COLUMNS = (
    "kafka_topic",
    "kafka_topic_id",
    "kafka_partition",
    "kafka_offset",
    "schema_registry_id",
    "schema_id",
    "schema_version",
    "stored_at",
)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Placement:
    """One field of the writer schema and the kind of the column it is stored in."""

    field: str
    writer: Kind
    column: Kind
    # The column's own name when it differs from the field's by case (a column added by an
    # earlier schema): SQLite matches names either way, PostgreSQL (quoted) only exactly.
    column_name: str = ""
    # Every decoded value is a str or None already (a string, an enum): kept as it comes.
    as_decoded: bool = False

    @property
    def name(self) -> str:
        return self.column_name or self.field


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    reason: str  # why it was refused, or what accepting it changes
    placements: tuple[Placement, ...] = ()
    new_columns: tuple[Column, ...] = ()


def decide(
    definition: Any, columns: Mapping[str, Column], *, first: bool, typed: bool = False
) -> Decision:
    """Judge a writer schema against the table's columns (keyed by lower-cased name).

    `first` is true while no schema has been accepted yet: the first one defines the table,
    so its fields need no defaults. `typed`: the store's columns hold one type each
    (PostgreSQL; see `kinds.compatible`).
    """
    fields = _record_fields(definition)
    if isinstance(fields, str):
        return Decision(False, fields)
    names = [str(field.get("name")) for field in fields]
    problems = _name_problems(names)
    placements: list[Placement] = []
    new_columns: list[Column] = []
    for field in fields:
        problem, placement, column = _judge_field(field, columns, first=first, typed=typed)
        if problem:
            problems.append(problem)
            continue
        if placement:
            placements.append(placement)
        if column:
            new_columns.append(column)
    if problems:
        return Decision(False, "; ".join(problems))
    summary = _summary(new_columns, columns, names)
    return Decision(True, summary, tuple(placements), tuple(new_columns))


def _record_fields(definition: Any) -> list[dict[str, Any]] | str:
    """The record's fields with named types expanded, or why there are none."""
    try:
        expanded = expand_schema(definition)
    except (SchemaParseException, ValueError, TypeError, KeyError) as exc:
        return f"the writer schema cannot be parsed: {exc}"
    if not isinstance(expanded, dict) or expanded.get("type") != "record":
        return "the writer schema is not a record: the store keeps one column per field"
    fields = expanded.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, dict) for f in fields):
        return "the writer schema's record has no list of fields"
    return fields


def _name_problems(names: list[str]) -> list[str]:
    lowered = [name.lower() for name in names]
    problems = []
    if KEY not in lowered:
        problems.append(f"field '{KEY}' is missing: the store keys every event by it")
    for name in names:
        if name.lower() in META_COLUMNS:
            problems.append(f"field '{name}' collides with the store's own column of that name")
    for name in sorted({n for n in names if lowered.count(n.lower()) > 1}):
        problems.append(f"field '{name}' differs from another field only by case")
    return problems


def _judge_field(
    field: dict[str, Any], columns: Mapping[str, Column], *, first: bool, typed: bool
) -> tuple[str | None, Placement | None, Column | None]:
    """(problem, where the field lands, the new column it needs) for one writer field."""
    name = str(field.get("name"))
    if name.lower() in META_COLUMNS:
        return None, None, None  # already reported by _name_problems
    ftype = field_type(field.get("type"))
    as_decoded = decodes_to_text(field.get("type"))
    existing = columns.get(name.lower())
    if existing is not None:
        if not compatible(existing.kind, ftype.kind, typed=typed):
            return (
                f"field '{name}' changed type: the store keeps it as {existing.kind}, "
                f"the writer sends {ftype.label}",
                None,
                None,
            )
        column_name = "" if existing.name == name else existing.name
        return None, Placement(name, ftype.kind, existing.kind, column_name, as_decoded), None
    if not first and not ftype.nullable and "default" not in field:
        return (
            f"field '{name}' is new and has no default: it would need a NOT NULL column, "
            "but the events already stored and those of older versions have no value for it",
            None,
            None,
        )
    placement = Placement(name, ftype.kind, ftype.kind, as_decoded=as_decoded)
    return None, placement, Column(name, ftype.kind)


def _summary(new: list[Column], columns: Mapping[str, Column], names: list[str]) -> str:
    present = {name.lower() for name in names}
    absent = sorted(c.name for key, c in columns.items() if key not in present)
    parts = []
    if new:
        parts.append("adds columns " + ", ".join(f"{c.name} ({c.kind})" for c in new))
    if absent:
        parts.append("leaves empty " + ", ".join(absent))
    return "; ".join(parts) if parts else "fits the table as it is"
