"""Read-only questions asked of the registry state, answered in Confluent's response shapes.

Callers hold `state.lock`. Versions are plain ints here; LATEST (-1) means "the newest".
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.registry.compatibility import DEFAULT_LEVEL, Level
from pipeline.registry.errors import (
    SchemaNotFound,
    SubjectConfigNotFound,
    SubjectModeNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from pipeline.registry.schemas import AVRO
from pipeline.registry.state import SchemaEntry, State, VersionEntry

LATEST = -1
READWRITE, READONLY, IMPORT = "READWRITE", "READONLY", "IMPORT"
MODES = (READWRITE, READONLY, IMPORT)


def schema_fields(entry: SchemaEntry) -> dict[str, Any]:
    """schemaType (only when not AVRO), references (only when present), schema."""
    fields: dict[str, Any] = {}
    if entry.schema_type != AVRO:
        fields["schemaType"] = entry.schema_type
    if entry.references:
        fields["references"] = [r.to_json() for r in entry.references]
    fields["schema"] = entry.text
    return fields


def version_view(state: State, entry: VersionEntry) -> dict[str, Any]:
    view: dict[str, Any] = {"subject": entry.subject, "version": entry.version}
    view["id"] = entry.schema_id
    view.update(schema_fields(state.schemas[entry.schema_id]))
    return view


def schema_entry(state: State, schema_id: int) -> SchemaEntry:
    entry = state.schemas.get(schema_id)
    if entry is None:
        raise SchemaNotFound(f"Schema {schema_id} not found")
    return entry


def schema_body(state: State, schema_id: int) -> bytes:
    """The JSON body of GET /schemas/ids/{id}, encoded once per id."""
    entry = schema_entry(state, schema_id)
    if entry.body is None:
        entry.body = json.dumps(schema_fields(entry)).encode()
    return entry.body


def subjects(state: State, *, deleted: bool, deleted_only: bool, prefix: str) -> list[str]:
    names = []
    for subject in sorted(state.subjects):
        if not subject.startswith(prefix):
            continue
        live = bool(state.versions(subject))
        if (deleted_only and not live) or (not deleted_only and (live or deleted)):
            names.append(subject)
    return names


def schema_list(
    state: State, *, prefix: str, deleted: bool, latest_only: bool
) -> list[dict[str, Any]]:
    """GET /schemas: versions by subject then version; with `latest_only`, each subject's
    last version among those listed (soft-deleted ones only when `deleted`)."""
    views = []
    for subject in sorted(state.subjects):
        if not subject.startswith(prefix):
            continue
        versions = state.versions(subject, deleted=deleted)
        chosen = versions[-1:] if latest_only else versions
        views += [version_view(state, entry) for entry in chosen]
    return views


def known_versions(state: State, subject: str, *, deleted: bool) -> list[VersionEntry]:
    """The subject's versions (live, or all when `deleted`); 40401 if there are none."""
    versions = state.versions(subject, deleted=deleted)
    if not versions:
        raise SubjectNotFound(subject)
    return versions


def version_list(state: State, subject: str, *, deleted: bool, deleted_only: bool) -> list[int]:
    versions = known_versions(state, subject, deleted=deleted or deleted_only)
    return [v.version for v in versions if not deleted_only or v.deleted]


def find_version(state: State, subject: str, version: int, *, deleted: bool) -> VersionEntry:
    """A version by number or LATEST; soft-deleted ones only when `deleted`."""
    versions = known_versions(state, subject, deleted=deleted)
    if version == LATEST:
        return versions[-1]
    for entry in versions:
        if entry.version == version:
            return entry
    raise VersionNotFound(subject, version)


def referenced_by(state: State, subject: str, version: int) -> list[int]:
    target = find_version(state, subject, version, deleted=True)
    ids = {
        e.schema_id
        for versions in state.subjects.values()
        for e in versions.values()
        if not e.deleted
        and any(
            r.subject == subject and r.version == target.version
            for r in state.schemas[e.schema_id].references
        )
    }
    return sorted(ids)


def id_versions(
    state: State, schema_id: int, *, deleted: bool, subject: str | None
) -> list[dict[str, Any]]:
    schema_entry(state, schema_id)
    pairs = [
        {"subject": e.subject, "version": e.version}
        for name in sorted(state.subjects)
        for e in state.versions(name, deleted=deleted)
        if e.schema_id == schema_id and (subject is None or e.subject == subject)
    ]
    return pairs


def level_of(state: State, subject: str | None) -> Level:
    """The compatibility level in force for a subject (its own, else the global one)."""
    raw = state.configs.get(subject) or state.configs.get(None)
    try:
        return Level(raw) if raw else DEFAULT_LEVEL
    except ValueError:
        return DEFAULT_LEVEL


def config_view(state: State, subject: str | None, *, default_to_global: bool) -> dict[str, Any]:
    if subject is not None and subject not in state.configs and not default_to_global:
        raise SubjectConfigNotFound(subject)
    return {"compatibilityLevel": level_of(state, subject).value}


def mode_of(state: State, subject: str | None) -> str:
    return state.modes.get(subject) or state.modes.get(None) or READWRITE


def mode_view(state: State, subject: str | None, *, default_to_global: bool) -> dict[str, Any]:
    if subject is not None and subject not in state.modes and not default_to_global:
        raise SubjectModeNotFound(subject)
    return {"mode": mode_of(state, subject)}
