"""Schemas: subjects, versions, a diff and the seven-level matrix of two versions, a dry run.

Each request asks the registry afresh (a new client, bounded in time, no retries), so what
is shown is what is registered now and a registry that is down is reported within seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi import APIRouter, Query, Request
from fastavro import parse_schema

from pipeline import registry_client
from pipeline.api.app import state
from pipeline.api.errors import ApiError
from pipeline.api.models import SchemaCheck, errors
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.schema_lab import subjects
from pipeline.schema_lab.diff import diff
from pipeline.schema_lab.matrix import compatibility_matrix

router = APIRouter(prefix="/schemas", tags=["schemas"])
REGISTRY_TIMEOUT_S = 5.0
Subject = Annotated[str | None, Query(min_length=1, max_length=300)]
Version = Annotated[int, Query(ge=1, le=1_000_000)]


@contextmanager
def registry(settings: Settings) -> Iterator[SchemaRegistryClient]:
    client = registry_client.connect(settings, timeout_s=REGISTRY_TIMEOUT_S, retries=0)
    try:
        yield client
    finally:
        client.close()


def _subject(request: Request, subject: str | None) -> str:
    return subject or registry_client.value_subject(state(request).settings.topic)


@router.get("", responses=errors(401, 503), summary="Subjects: versions, ids and levels")
def list_subjects(request: Request) -> dict[str, Any]:
    with registry(state(request).settings) as client:
        global_level = subjects.subject_level(client, None)
        found = subjects.list_subjects(client, global_level)
    return {
        "global_level": global_level,
        "subjects": [
            {
                "subject": info.subject,
                "level": info.level,
                "versions": [
                    {"version": v, "id": i} for v, i in zip(info.versions, info.ids, strict=True)
                ],
            }
            for info in found
        ],
    }


@router.get(
    "/version",
    responses=errors(400, 401, 404, 422, 503),
    summary="One registered version (the latest without `version`)",
)
def version(
    request: Request, subject: Subject = None, version: Version | None = None
) -> dict[str, Any]:
    name = _subject(request, subject)
    with registry(state(request).settings) as client:
        found = subjects.show(client, name, version)
    return {
        "subject": name,
        "version": found.version,
        "id": found.schema_id,
        "schema": json.loads(found.schema.schema_str or "null"),
    }


def _pair(request: Request, subject: str | None, old: int, new: int) -> tuple[Any, Any]:
    name = _subject(request, subject)
    with registry(state(request).settings) as client:
        before = subjects.show(client, name, old)
        after = subjects.show(client, name, new)
    return json.loads(before.schema.schema_str or "{}"), json.loads(after.schema.schema_str or "{}")


@router.get(
    "/diff",
    responses=errors(400, 401, 404, 422, 503),
    summary="What changed from version `old` to version `new` of a subject",
)
def schema_diff(
    request: Request, old: Version, new: Version, subject: Subject = None
) -> dict[str, Any]:
    before, after = _pair(request, subject, old, new)
    changes = diff(before, after) if _records(before, after) else []
    return {"changes": [{"path": c.path, "kind": c.kind, "text": c.text} for c in changes]}


@router.get(
    "/matrix",
    responses=errors(400, 401, 404, 422, 503),
    summary="The seven compatibility levels for two versions, with decoding evidence",
)
def matrix(request: Request, old: Version, new: Version, subject: Subject = None) -> dict[str, Any]:
    before, after = _pair(request, subject, old, new)
    if not _records(before, after):
        raise ApiError(422, "the matrix compares record schemas; these versions are not records")
    table = compatibility_matrix(before, after)
    return {
        "levels": [
            {
                "level": row.level.value,
                "accepted": row.accepted,
                "reasons": list(row.reasons),
                "evidence": [e.text() for e in row.evidence],
            }
            for row in table.rows
        ],
        "backward": table.backward.text(),
        "forward": table.forward.text(),
    }


@router.post(
    "/check",
    responses=errors(400, 401, 404, 408, 413, 422, 503),
    summary="A dry run: would the subject accept this schema? (nothing is registered)",
)
def check(body: SchemaCheck, request: Request) -> dict[str, Any]:
    try:
        parse_schema(json.loads(body.schema_))
    except Exception as exc:  # bad JSON or bad Avro, fastavro raises several kinds
        raise ApiError(422, f"schema: not a valid Avro schema: {str(exc)[:200]}") from exc
    if body.level is not None:
        subjects.parse_level(body.level)
    name = _subject(request, body.subject)
    with registry(state(request).settings) as client:
        try:
            result = subjects.check_compatibility(client, name, body.schema_, body.level)
        except PipelineError:
            raise
        except Exception as exc:  # Apache Avro's parser refuses what fastavro took
            raise ApiError(422, f"schema: cannot be checked: {str(exc)[:200]}") from exc
    return {
        "subject": name,
        "compatible": result.compatible,
        "level": result.level,
        "reasons": list(result.reasons),
        "note": result.note,
    }


def _records(*schemas: Any) -> bool:
    return all(isinstance(s, dict) and s.get("type") == "record" for s in schemas)
