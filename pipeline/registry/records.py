"""The `_schemas` topic's records, byte for byte as Confluent's registry writes them.

Keys are compact JSON with fields in Confluent's order (keytype, subject, version, magic);
SCHEMA keys have magic 1, all others magic 0; a null subject means "global". A null value
(tombstone) deletes the key: a permanently deleted version, a removed config or mode.

One record is this registry's own: REGISTRY_KEY, Confluent's NOOP key with its two fields
in the other order. Confluent's reader parses it as a NOOP and skips it, while compaction
(which compares key bytes) keeps it apart from the NOOP tombstones Confluent's registry
writes. Its value holds the highest schema id ever handed out (a hard delete followed by
compaction must not let an id be handed out again) and which registry instance writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.registry.schemas import AVRO, Reference

SCHEMA = "SCHEMA"
CONFIG = "CONFIG"
MODE = "MODE"
DELETE_SUBJECT = "DELETE_SUBJECT"
NOOP = "NOOP"


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def schema_key(subject: str, version: int) -> bytes:
    return _dump({"keytype": SCHEMA, "subject": subject, "version": version, "magic": 1})


def config_key(subject: str | None) -> bytes:
    return _dump({"keytype": CONFIG, "subject": subject, "magic": 0})


def mode_key(subject: str | None) -> bytes:
    return _dump({"keytype": MODE, "subject": subject, "magic": 0})


REGISTRY_KEY = b'{"magic":0,"keytype":"NOOP"}'


def registry_value(*, max_schema_id: int, writer: str | None) -> bytes:
    return _dump({"maxSchemaId": max_schema_id, "writer": writer})


def delete_subject_key(subject: str) -> bytes:
    return _dump({"keytype": DELETE_SUBJECT, "subject": subject, "magic": 0})


def schema_value(
    *,
    subject: str,
    version: int,
    schema_id: int,
    schema: str,
    deleted: bool,
    schema_type: str = AVRO,
    references: Sequence[Reference] = (),
) -> bytes:
    value: dict[str, Any] = {"subject": subject, "version": version, "id": schema_id}
    if schema_type != AVRO:
        value["schemaType"] = schema_type
    if references:
        value["references"] = [r.to_json() for r in references]
    value["schema"] = schema
    value["deleted"] = deleted
    return _dump(value)


def config_value(level: str) -> bytes:
    return _dump({"compatibilityLevel": level})


def mode_value(mode: str) -> bytes:
    return _dump({"mode": mode})


def delete_subject_value(subject: str, version: int) -> bytes:
    return _dump({"subject": subject, "version": version})


@dataclass(frozen=True)
class Record:
    """A decoded `_schemas` record; `value` is None for a tombstone."""

    keytype: str
    key: dict[str, Any]
    value: dict[str, Any] | None


def decode(key: bytes | None, value: bytes | None) -> Record | None:
    """Decode a record; None if it is not one of ours (the reader skips it)."""
    if key is None:
        return None
    try:
        key_data = json.loads(key)
        value_data = json.loads(value) if value is not None else None
    except ValueError:
        return None
    if not isinstance(key_data, dict) or not isinstance(key_data.get("keytype"), str):
        return None
    if value_data is not None and not isinstance(value_data, dict):
        return None
    return Record(key_data["keytype"], key_data, value_data)


def references_of(value: dict[str, Any]) -> tuple[Reference, ...]:
    """The references of a SCHEMA value (absent or empty for most schemas)."""
    raw = value.get("references") or []
    return tuple(
        Reference(name=str(r["name"]), subject=str(r["subject"]), version=int(r["version"]))
        for r in raw
        if isinstance(r, dict)
    )
