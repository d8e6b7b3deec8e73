"""Reading Avro with plain values for the two logical types every order event has.

fastavro turns a `uuid` string into a `uuid.UUID` and a `timestamp-millis` long into an
aware `datetime`; a consumer that keeps the text of the one and the milliseconds of the
other (the audit store) pays for both objects and then for undoing them: a third of the
storage service's decoding. `plain_schema` takes those two logical types off the record's
own fields (nested and union-typed fields keep theirs), and `Plain.check` then does on the
plain values what fastavro's conversion would have refused or changed, so a plain read
accepts exactly what a full one accepts and yields the same data:

- a uuid that is not in canonical form is made canonical (`str(uuid.UUID(text))`, which is
  what a store keeps of the object); one that is not a uuid is refused (ValueError);
- a timestamp outside `datetime`'s years 1 to 9999 is refused (OverflowError).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

PLAIN_LOGICAL = {"string": "uuid", "long": "timestamp-millis"}
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The milliseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
MIN_MS, MAX_MS = -62_135_596_800_000, 253_402_300_799_999


@dataclass(frozen=True)
class Plain:
    """Which of a record's fields were read plain, to be checked."""

    uuids: tuple[str, ...] = ()
    times: tuple[str, ...] = ()

    def check(self, value: dict[str, Any]) -> None:
        """Refuse what a full read refuses; make uuids canonical (in place)."""
        match = CANONICAL_UUID.fullmatch
        for name in self.uuids:
            text = value[name]
            if not match(text):
                value[name] = str(uuid.UUID(text))  # ValueError if it is none
        for name in self.times:
            if not MIN_MS <= value[name] <= MAX_MS:
                raise OverflowError(f"timestamp {value[name]} ms is out of range for {name}")


def plain_schema(definition: Any) -> tuple[Any, Plain]:
    """`definition` with the uuid and timestamp-millis of its own fields taken off, and
    the fields that were; a definition that is not a record comes back as it is."""
    if not isinstance(definition, dict) or definition.get("type") != "record":
        return definition, Plain()
    fields: list[Any] = []
    uuids: list[str] = []
    times: list[str] = []
    for field in definition.get("fields", []):
        kind = field.get("type")
        logical = kind.get("logicalType") if isinstance(kind, dict) else None
        if logical is not None and PLAIN_LOGICAL.get(str(kind.get("type"))) == logical:
            (uuids if logical == "uuid" else times).append(field["name"])
            field = {**field, "type": kind["type"]}
        fields.append(field)
    return {**definition, "fields": fields}, Plain(tuple(uuids), tuple(times))
