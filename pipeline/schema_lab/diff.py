"""What changed between two Avro schemas, in words a person reads. Pure, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Avro's promotions: the writer's type on the left can be read as any type on the right.
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_MISSING = object()


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "amount" or "address.city"; "" for the record itself
    kind: str  # added | removed | renamed | type | default | aliases | symbols | name
    text: str


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Changes from `old` to `new` (both record schemas as parsed JSON)."""
    return _diff_types(old, new, "")


def describe(changes: list[Change]) -> list[str]:
    return [change.text for change in changes] or ["no differences"]


def type_name(schema: Any) -> str:
    """A short readable name: "string", "enum OrderStatus", "null | double", "array of long"."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return " | ".join(type_name(branch) for branch in schema)
    kind = schema.get("type")
    if kind in ("record", "enum", "fixed"):
        return f"{kind} {schema.get('name')}"
    if kind == "array":
        return f"array of {type_name(schema.get('items'))}"
    if kind == "map":
        return f"map of {type_name(schema.get('values'))}"
    logical = schema.get("logicalType")
    return f"{type_name(kind)} ({logical})" if logical else type_name(kind)


def _diff_types(old: Any, new: Any, path: str) -> list[Change]:
    if _kind(old) == _kind(new) == "record":
        return _diff_records(old, new, path)
    if _kind(old) == _kind(new) == "enum":
        return _diff_enums(old, new, path)
    if type_name(old) == type_name(new):
        return []
    return [Change(path, "type", _type_change(old, new, path))]


def _diff_records(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Change]:
    changes: list[Change] = []
    if old.get("name") != new.get("name"):
        aliased = old.get("name") in new.get("aliases", [])
        how = " (the old name is kept as an alias)" if aliased else " without an alias"
        label = f"record {path}" if path else "the record"
        changes.append(
            Change(path, "name", f"{label} renamed {old.get('name')} → {new.get('name')}{how}")
        )
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    new_fields = {f["name"]: f for f in new.get("fields", [])}
    renamed = _renames(old_fields, new_fields)
    for name, field in new_fields.items():
        where = _join(path, name)
        if name in old_fields:
            changes += _diff_fields(old_fields[name], field, where)
        elif name in renamed.values():
            source = next(k for k, v in renamed.items() if v == name)
            text = f"field {_join(path, source)} renamed to {where} (alias '{source}' kept)"
            changes.append(Change(where, "renamed", text))
            changes += _diff_fields(old_fields[source], field, where, compare_aliases=False)
        else:
            changes.append(Change(where, "added", f"field {where} added: {_field_summary(field)}"))
    for name, field in old_fields.items():
        if name not in new_fields and name not in renamed:
            where = _join(path, name)
            had = "it had a default" if "default" in field else "it had no default"
            text = f"field {where} removed ({type_name(field['type'])}; {had})"
            changes.append(Change(where, "removed", text))
    return changes


def _diff_fields(
    old: dict[str, Any], new: dict[str, Any], path: str, compare_aliases: bool = True
) -> list[Change]:
    changes = _diff_types(old["type"], new["type"], path)
    old_default, new_default = old.get("default", _MISSING), new.get("default", _MISSING)
    if old_default != new_default:
        changes.append(Change(path, "default", _default_change(old_default, new_default, path)))
    old_aliases, new_aliases = set(old.get("aliases", [])), set(new.get("aliases", []))
    if compare_aliases and old_aliases != new_aliases:
        added, removed = sorted(new_aliases - old_aliases), sorted(old_aliases - new_aliases)
        parts = [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        changes.append(Change(path, "aliases", f"field {path} aliases: {'; '.join(parts)}"))
    return changes


def _diff_enums(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Change]:
    changes: list[Change] = []
    old_symbols, new_symbols = old.get("symbols", []), new.get("symbols", [])
    added = [s for s in new_symbols if s not in old_symbols]
    removed = [s for s in old_symbols if s not in new_symbols]
    label = f"enum {new.get('name')} of field {path}" if path else f"enum {new.get('name')}"
    if added:
        note = (
            "" if "default" in old else " (the old enum has no default, so old readers fail on it)"
        )
        changes.append(Change(path, "symbols", f"{label}: symbols added {', '.join(added)}{note}"))
    if removed:
        changes.append(Change(path, "symbols", f"{label}: symbols removed {', '.join(removed)}"))
    if old.get("default") != new.get("default"):
        text = f"{label}: default {old.get('default')} → {new.get('default')}"
        changes.append(Change(path, "default", text))
    return changes


def _renames(old_fields: dict[str, Any], new_fields: dict[str, Any]) -> dict[str, str]:
    """Old field name → new field name, for new fields that keep the old name as an alias."""
    renames: dict[str, str] = {}
    for name, field in new_fields.items():
        if name in old_fields:
            continue
        for alias in field.get("aliases", []):
            if alias in old_fields and alias not in new_fields:
                renames[alias] = name
    return renames


def _type_change(old: Any, new: Any, path: str) -> str:
    old_name, new_name = type_name(old), type_name(new)
    if _base(new) in PROMOTIONS.get(_base(old), set()):
        return (
            f"field {path} type {old_name} → {new_name} (an Avro promotion: old data still reads)"
        )
    if isinstance(new, list) and type_name(old) in [type_name(b) for b in new]:
        return f"field {path} type {old_name} → {new_name} (widened to a union)"
    return f"field {path} type changed {old_name} → {new_name} (not a promotion)"


def _default_change(old: Any, new: Any, path: str) -> str:
    if old is _MISSING:
        return f"field {path} gained a default: {json.dumps(new)}"
    if new is _MISSING:
        return f"field {path} lost its default (was {json.dumps(old)})"
    return f"field {path} default {json.dumps(old)} → {json.dumps(new)}"


def _field_summary(field: dict[str, Any]) -> str:
    if "default" in field:
        return f"{type_name(field['type'])}, default {json.dumps(field['default'])}"
    return f"{type_name(field['type'])}, no default (old data cannot fill it)"


def _kind(schema: Any) -> str | None:
    return schema.get("type") if isinstance(schema, dict) else None


def _base(schema: Any) -> str:
    """The primitive under a schema, ignoring logical types ("long" for timestamp-millis)."""
    if isinstance(schema, dict) and isinstance(schema.get("type"), str):
        return str(schema["type"])
    return schema if isinstance(schema, str) else ""


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
