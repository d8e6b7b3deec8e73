"""Generated order events reshaped to any record schema, and JSON lines checked against one.
Pure, no I/O.

`produce --schema FILE` writes with a registered schema that may rename a field (keeping
the old name as an alias), change its type, or add fields. Each field of the schema is
filled, decided once from the first event:

    by name       the event has a field of that name whose value fits the type
    by alias      the event has a field named by one of the field's aliases, and it fits
    by default    the field's default
    generated     a value of the field's type (the event's value, if any, does not fit)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema
from fastavro.validation import ValidationError, validate

from pipeline.schema_lab.samples import named_types, sample_records, sample_value

_JSON_KINDS = {str: "a string", int: "a long", float: "a double", bool: "a boolean"}


@dataclass(frozen=True)
class Fill:
    field: str
    how: str  # "name" | "alias" | "default" | "generated"
    source: str | None = None  # the event's field, for name and alias
    why: str = ""  # for generated: why the event's value could not be used


class Shaper:
    """Turns generator events (dicts) into records of `schema`, field by field."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._parsed = parse_schema(schema)
        self._named = named_types(schema)
        self._fields = {f["name"]: f for f in schema["fields"]}
        self._baseline = next(sample_records(schema, 1))
        self.plan: list[Fill] | None = None
        self._count = 0

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.plan is None:
            self.plan = [self._decide(field, event) for field in self.schema["fields"]]
        self._count += 1
        return {fill.field: self._value(fill, event) for fill in self.plan}

    def _decide(self, field: dict[str, Any], event: dict[str, Any]) -> Fill:
        name = field["name"]
        candidates = [(name, "name")] + [(a, "alias") for a in field.get("aliases", [])]
        unfit = ""
        for source, how in candidates:
            if source in event:
                if self._fits(name, event[source]):
                    return Fill(name, how, source)
                kind = _JSON_KINDS.get(type(event[source]), type(event[source]).__name__)
                unfit = f"the events' {source} is {kind}"
        if "default" in field:
            return Fill(name, "default")
        return Fill(name, "generated", why=unfit)

    def _fits(self, name: str, value: Any) -> bool:
        """Whether `value` is valid for field `name` (checked in a whole valid record, so
        named types defined elsewhere in the schema resolve)."""
        record = {**self._baseline, name: value}
        return bool(validate(record, self._parsed, raise_errors=False))

    def _value(self, fill: Fill, event: dict[str, Any]) -> Any:
        if fill.source is not None:
            return event[fill.source]
        field = self._fields[fill.field]
        if fill.how == "default":
            return field["default"]
        return sample_value(field["type"], self._count, self._named)


def describe_plan(plan: list[Fill], schema_name: str) -> list[str]:
    """How each field was filled, in a few lines ("all by name" when nothing else)."""
    if all(fill.how == "name" for fill in plan):
        return [f"{schema_name}: every field filled by name from the generated events"]
    lines = [f"{schema_name}: fields filled"]
    groups: dict[str, list[str]] = {}
    for fill in plan:
        if fill.how == "alias":
            text = f"{fill.field} (from {fill.source})"
        elif fill.how == "generated" and fill.why:
            text = f"{fill.field} ({fill.why})"
        else:
            text = fill.field
        groups.setdefault(fill.how, []).append(text)
    labels = {
        "name": "by name",
        "alias": "by alias",
        "default": "by default",
        "generated": "generated",
    }
    for how, label in labels.items():
        if how in groups:
            lines.append(f"  {label}: {', '.join(groups[how])}")
    return lines


@dataclass(frozen=True)
class Refused:
    line: int
    reason: str


def records_from_lines(
    lines: Iterator[str], schema: dict[str, Any], refused: list[Refused]
) -> Iterator[dict[str, Any]]:
    """The JSON objects of `lines` that are valid records of `schema`; each other non-blank
    line is added to `refused` with its number and why."""
    parsed = parse_schema(schema)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            refused.append(Refused(number, f"not JSON ({exc})"))
            continue
        if not isinstance(record, dict):
            refused.append(Refused(number, f"a JSON {type(record).__name__}, not an object"))
            continue
        try:
            validate(record, parsed, raise_errors=True)
        except ValidationError as exc:
            refused.append(Refused(number, _validation_reason(exc)))
            continue
        yield record


def _validation_reason(exc: ValidationError) -> str:
    """ "field amount: "x" is not a long" out of fastavro's first finding."""
    errors = getattr(exc, "errors", None)
    if not errors:
        return "does not fit the schema"
    first = errors[0]
    name = str(first.field).rsplit(".", 1)[-1]
    expected = describe_type(first.schema)
    if first.datum is None:
        return f"field {name} is missing (or null) but must be {expected}"
    shown = json.dumps(first.datum, default=str)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"field {name}: {shown} is not {expected}"


def describe_type(schema: Any) -> str:
    if isinstance(schema, str):
        return _a(schema.rsplit(".", 1)[-1])
    if isinstance(schema, list):
        return " or ".join(describe_type(branch) for branch in schema)
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "enum":
            return f"one of {', '.join(schema.get('symbols', []))}"
        if kind in ("record", "fixed"):
            return _a(f"{kind} {str(schema.get('name')).rsplit('.', 1)[-1]}")
        if kind in ("array", "map"):
            return _a(str(kind))
        logical = schema.get("logicalType")
        return describe_type(kind) + (f" ({logical})" if logical else "")
    return str(schema)


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word
