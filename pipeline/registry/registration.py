"""Deciding a registration: a pure function of the state and the candidate schema.

Confluent's rules: the same schema in the same subject answers the existing version; the
same schema elsewhere keeps its id; a new schema gets the next id, ids are never reused;
the version is one past the subject's highest (soft-deleted ones count). The level's check
runs against live versions. IMPORT mode keeps the client's id and version and skips it.
"""

from __future__ import annotations

from pipeline.registry import compatibility, records
from pipeline.registry.errors import Incompatible, OperationNotPermitted
from pipeline.registry.operations import Candidate, Change, existing_version, matching_version
from pipeline.registry.queries import IMPORT, READONLY, level_of, mode_of
from pipeline.registry.schemas import normalized_text
from pipeline.registry.state import State, VersionEntry


def plan_registration(
    state: State, subject: str, candidate: Candidate, *, normalize: bool
) -> Change:
    mode = mode_of(state, subject)
    if mode == READONLY:
        raise OperationNotPermitted(f"Subject '{subject}' is in read-only mode")
    found = matching_version(state, subject, candidate, deleted=False)
    if found is not None and candidate.request.schema_id in (None, found.schema_id):
        return Change(found)
    if mode == IMPORT:
        entry = plan_import(state, subject, candidate)
        if entry is None:  # this exact id and version were imported before
            return Change(state.subjects[subject][candidate.request.version or 0])
    else:
        entry = plan_new_version(state, subject, candidate)
    return Change(entry, (schema_record(state, entry, candidate, normalize),))


def plan_new_version(state: State, subject: str, candidate: Candidate) -> VersionEntry:
    request = candidate.request
    live = state.versions(subject)
    level = level_of(state, subject)
    result = compatibility.check(
        [existing_version(state, e) for e in live], candidate.parsed, level
    )
    if not result.compatible:
        reasons = [m for m in result.messages if not m.startswith("{oldSchema:")]
        raise Incompatible(
            "Schema being registered is incompatible with an earlier schema for subject "
            f"'{subject}', details: [{', '.join(reasons)}]"
        )
    known = state.identities.get(candidate.identity)
    schema_id = known if known is not None else state.max_id + 1
    version = next_version(state, subject)
    if request.schema_id not in (None, schema_id) or request.version not in (None, version):
        raise OperationNotPermitted(
            f"Subject '{subject}' is not in IMPORT mode: a schema id or version "
            "can be chosen only when importing"
        )
    return VersionEntry(subject, version, schema_id)


def plan_import(state: State, subject: str, candidate: Candidate) -> VersionEntry | None:
    """The entry to import, or None when this exact id and version are already there."""
    request = candidate.request
    if request.schema_id is None:
        raise OperationNotPermitted("A schema id is required when registering in IMPORT mode")
    holder = state.schemas.get(request.schema_id)
    if holder is not None and state.identity_of(holder) != candidate.identity:
        raise OperationNotPermitted(
            f"Overwrite new schema with id {request.schema_id} is not permitted."
        )
    version = request.version or next_version(state, subject)
    present = state.subjects.get(subject, {}).get(version)
    if present is None:
        return VersionEntry(subject, version, request.schema_id)
    if present.schema_id == request.schema_id and request.version is not None:
        return None
    raise OperationNotPermitted(
        f"Overwrite schema version {version} of subject '{subject}' is not permitted."
    )


def next_version(state: State, subject: str) -> int:
    versions = state.versions(subject, deleted=True)
    return versions[-1].version + 1 if versions else 1


def schema_record(
    state: State, entry: VersionEntry, candidate: Candidate, normalize: bool
) -> tuple[bytes, bytes]:
    """The SCHEMA record; every record of one id carries the text it was first stored with."""
    request = candidate.request
    stored = state.schemas.get(entry.schema_id)
    if stored is not None:
        text = stored.text
    else:
        text = normalized_text(candidate.parsed) if normalize else request.schema
    value = records.schema_value(
        subject=entry.subject,
        version=entry.version,
        schema_id=entry.schema_id,
        schema=text,
        deleted=False,
        schema_type=request.schema_type,
        references=request.references,
    )
    return records.schema_key(entry.subject, entry.version), value
