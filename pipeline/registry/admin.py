"""Deletes, compatibility levels and modes: each a pure decision over the state → `Change`.

Soft deletes keep the records (a SCHEMA with deleted=true, or one DELETE_SUBJECT record);
permanent deletes, allowed only after a soft one, write tombstones. Removing a config or a
mode writes a tombstone for its key. A permanent delete first records the highest id handed
out, under a key compaction keeps: once the deleted records are compacted away, a restarted
registry still knows that id was used.
"""

from __future__ import annotations

from typing import Any

from pipeline.registry import records
from pipeline.registry.compatibility import Level
from pipeline.registry.errors import (
    InvalidCompatibility,
    InvalidMode,
    OperationNotPermitted,
    ReferenceExists,
    SubjectConfigNotFound,
    SubjectModeNotFound,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from pipeline.registry.operations import Change
from pipeline.registry.queries import (
    IMPORT,
    LATEST,
    MODES,
    READONLY,
    find_version,
    level_of,
    mode_of,
    referenced_by,
)
from pipeline.registry.state import State, VersionEntry


def delete_subject(state: State, subject: str, *, permanent: bool) -> Change:
    every = state.versions(subject, deleted=True)
    if not every:
        raise SubjectNotFound(subject)
    refuse_if_read_only(state, subject)
    live = [e for e in every if not e.deleted]
    for entry in every:
        refuse_if_referenced(state, entry)
    if not permanent:
        if not live:
            raise SubjectSoftDeleted(subject)
        value = records.delete_subject_value(subject, live[-1].version)
        return Change([e.version for e in live], ((records.delete_subject_key(subject), value),))
    if live:
        raise SubjectNotSoftDeleted(subject)
    tombstones = [(records.schema_key(subject, e.version), None) for e in every]
    if subject in state.configs:
        tombstones.append((records.config_key(subject), None))
    if subject in state.modes:
        tombstones.append((records.mode_key(subject), None))
    return Change([e.version for e in every], (*high_water_mark(state), *tombstones))


def delete_version(state: State, subject: str, version: int, *, permanent: bool) -> Change:
    entry = find_version(state, subject, version, deleted=permanent or version != LATEST)
    refuse_if_read_only(state, subject)
    refuse_if_referenced(state, entry)
    key = records.schema_key(subject, entry.version)
    if permanent:
        if not entry.deleted:
            raise VersionNotSoftDeleted(subject, entry.version)
        return Change(entry.version, (*high_water_mark(state), (key, None)))
    if entry.deleted:
        raise VersionSoftDeleted(subject, entry.version)
    stored = state.schemas[entry.schema_id]
    value = records.schema_value(
        subject=subject,
        version=entry.version,
        schema_id=entry.schema_id,
        schema=stored.text,
        deleted=True,
        schema_type=stored.schema_type,
        references=stored.references,
    )
    return Change(entry.version, ((key, value),))


def high_water_mark(state: State) -> tuple[tuple[bytes, bytes], ...]:
    """The record that keeps the highest id handed out, when the stored one is lower."""
    if state.max_id <= state.id_mark:
        return ()
    value = records.registry_value(max_schema_id=state.max_id, writer=state.writer)
    return ((records.REGISTRY_KEY, value),)


def refuse_if_read_only(state: State, subject: str) -> None:
    if mode_of(state, subject) == READONLY:
        raise OperationNotPermitted(f"Subject '{subject}' is in read-only mode")


def refuse_if_referenced(state: State, entry: VersionEntry) -> None:
    users = referenced_by(state, entry.subject, entry.version)
    if users:
        raise ReferenceExists(
            f"Subject '{entry.subject}' version {entry.version} is referenced by schema ids "
            f"{users}; delete those first"
        )


def set_config(state: State, subject: str | None, body: dict[str, Any]) -> Change:
    raw = body.get("compatibility", body.get("compatibilityLevel"))
    try:
        level = Level(raw.upper() if isinstance(raw, str) else raw)
    except ValueError as exc:
        raise InvalidCompatibility(raw) from exc
    record = (records.config_key(subject), records.config_value(level.value))
    return Change({"compatibility": level.value}, (record,))


def delete_config(state: State, subject: str | None) -> Change:
    if subject is not None and subject not in state.configs:
        raise SubjectConfigNotFound(subject)
    old = level_of(state, subject).value
    return Change({"compatibilityLevel": old}, ((records.config_key(subject), None),))


def set_mode(state: State, subject: str | None, body: dict[str, Any], *, force: bool) -> Change:
    raw = body.get("mode")
    mode = raw.upper() if isinstance(raw, str) else raw
    if mode not in MODES:
        raise InvalidMode(raw)
    if mode == IMPORT and not force:
        names = [subject] if subject is not None else list(state.subjects)
        if any(state.versions(name, deleted=True) for name in names):
            raise OperationNotPermitted(
                "Cannot import since found existing subjects; set force=true to import anyway"
            )
    return Change({"mode": mode}, ((records.mode_key(subject), records.mode_value(mode)),))


def delete_mode(state: State, subject: str | None) -> Change:
    if subject is not None and subject not in state.modes:
        raise SubjectModeNotFound(subject)
    old = mode_of(state, subject)
    return Change({"mode": old}, ((records.mode_key(subject), None),))
