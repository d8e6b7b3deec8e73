"""Is a new schema compatible with a subject's existing ones? A pure function, no I/O.

The Avro specification's schema-resolution rules come from Apache's own checker
(`avro.compatibility`); this module only decides which (reader, writer) pairs a level asks
for and turns the checker's findings into messages that name the field and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType


class Level(Enum):
    """Confluent's compatibility levels."""

    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    NONE = "NONE"

    @property
    def transitive(self) -> bool:
        """Checked against every live version, not only the latest."""
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        """The new schema must read data written with the old one."""
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """The old schema must read data written with the new one."""
        return self.value.startswith(("FORWARD", "FULL"))


DEFAULT_LEVEL = Level.BACKWARD


@dataclass(frozen=True)
class Existing:
    """A live version of the subject, parsed."""

    version: int
    schema: avro.schema.Schema


@dataclass(frozen=True)
class CompatibilityResult:
    compatible: bool
    messages: tuple[str, ...] = ()


def check(
    existing: Sequence[Existing], new: avro.schema.Schema, level: Level
) -> CompatibilityResult:
    """Check `new` against `existing` (oldest first) as `level` requires."""
    if level is Level.NONE or not existing:
        return CompatibilityResult(True)
    targets = existing if level.transitive else existing[-1:]
    messages: list[str] = []
    for old in reversed(targets):
        found = problems(old, new, level)
        if found:
            messages.extend(found)
            messages.append(f"{{oldSchemaVersion: {old.version}}}")
            messages.append(f"{{oldSchema: '{json.dumps(old.schema.to_json())}'}}")
    if not messages:
        return CompatibilityResult(True)
    messages.append(f"{{compatibility: '{level.value}'}}")
    return CompatibilityResult(False, tuple(messages))


def problems(old: Existing, new: avro.schema.Schema, level: Level) -> list[str]:
    found: list[str] = []
    if level.backward:
        found += pair_problems(reader=new, writer=old.schema, reader_is_new=True, old=old.version)
    if level.forward:
        found += pair_problems(reader=old.schema, writer=new, reader_is_new=False, old=old.version)
    return found


def pair_problems(
    *, reader: avro.schema.Schema, writer: avro.schema.Schema, reader_is_new: bool, old: int
) -> list[str]:
    """What stops `reader` from reading data written with `writer`, one message per finding."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    reader_name = "the new schema" if reader_is_new else f"version {old}"
    writer_name = f"version {old}" if reader_is_new else "the new schema"
    kinds = sorted({kind.value.upper() for kind in result.incompatibilities})
    details = "; ".join(sorted(result.messages))
    # The checker also reports the root ("/") as a location; a field's path says more.
    locations = sorted(loc for loc in result.locations if loc != "/") or ["/"]
    places = ", ".join(describe_location(reader, loc) for loc in locations)
    return [
        f"{{errorType:'{', '.join(kinds)}', description:'{reader_name} cannot read data "
        f"written with {writer_name}: {explain(kinds)} at {places}: {details}', "
        f"additionalInfo:'{details}'}}"
    ]


EXPLANATIONS = {
    "READER_FIELD_MISSING_DEFAULT_VALUE": "a field the reader needs has no default and the writer "
    "does not have it",
    "TYPE_MISMATCH": "a field's type changed in a way Avro cannot promote",
    "NAME_MISMATCH": "a named type was renamed without an alias",
    "MISSING_ENUM_SYMBOLS": "the writer has enum symbols the reader lacks and the reader enum "
    "has no default",
    "MISSING_UNION_BRANCH": "the writer can write a union branch the reader lacks",
    "FIXED_SIZE_MISMATCH": "a fixed type changed size",
}


def explain(kinds: Sequence[str]) -> str:
    return "; ".join(EXPLANATIONS.get(kind, kind.lower()) for kind in kinds)


def describe_location(schema: avro.schema.Schema, location: str) -> str:
    """Turn the checker's '/fields/1/type' into "field 'email' (/fields/1/type)"."""
    fields: list[str] = []
    node: avro.schema.Schema | None = schema
    tokens = [t for t in location.split("/") if t]
    for index, token in enumerate(tokens):
        if node is None:
            break
        if token == "fields" and isinstance(node, avro.schema.RecordSchema):
            position = int(tokens[index + 1]) if index + 1 < len(tokens) else -1
            if 0 <= position < len(node.fields):
                field = node.fields[position]
                fields.append(field.name)
                node = field.type
        elif token == "items" and isinstance(node, avro.schema.ArraySchema):
            node = node.items
        elif token == "values" and isinstance(node, avro.schema.MapSchema):
            node = node.values
    if not fields:
        return f"the top level ({location})"
    return f"field '{'.'.join(fields)}' ({location})"
