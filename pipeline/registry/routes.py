"""Confluent's REST API: each handler parses its request and translates the answer. No rules here.

A handler returns a JSON-able value (sent as 200), or `Raw` bytes for the two answers that
are not built per request (a cached schema body, a schema's own text).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from pipeline.registry import admin, queries
from pipeline.registry.bodies import schema_request
from pipeline.registry.errors import InvalidVersion, NotFound, NotReady, SchemaNotFound
from pipeline.registry.operations import Registry
from pipeline.registry.registration import plan_registration
from pipeline.registry.router import Request, Route, route
from pipeline.registry.schemas import SUPPORTED_TYPES
from pipeline.registry.state import VersionEntry

MAX_VERSION = 2**31 - 1
# This API's OpenAPI 3 description, beside this module (tests keep it in step with ROUTES).
OPENAPI = resources.files("pipeline.registry").joinpath("openapi.json")


@dataclass(frozen=True)
class Raw:
    body: bytes


def version_arg(raw: str) -> int:
    """A path version: "latest", -1 (also latest) or 1..2^31-1; anything else is 42202."""
    if raw == "latest":
        return queries.LATEST
    try:
        version = int(raw)
    except ValueError:
        raise InvalidVersion(raw) from None
    if version == queries.LATEST or 1 <= version <= MAX_VERSION:
        return version
    raise InvalidVersion(raw)


def id_arg(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SchemaNotFound(f"Schema {raw} not found") from None


def page(items: list[Any], request: Request) -> list[Any]:
    offset, limit = max(request.number("offset", 0), 0), request.number("limit", -1)
    return items[offset : offset + limit] if limit > 0 else items[offset:]


def subject_of(request: Request) -> str | None:
    return request.params.get("subject")


# --- subjects and versions ------------------------------------------------------------------


def list_subjects(registry: Registry, request: Request) -> Any:
    prefix = request.text("subjectPrefix", "") or ""
    with registry.state.lock:
        names = queries.subjects(
            registry.state,
            deleted=request.flag("deleted"),
            deleted_only=request.flag("deleted_only"),
            prefix="" if prefix == ":*:" else prefix,
        )
    return page(names, request)


def list_versions(registry: Registry, request: Request) -> Any:
    with registry.state.lock:
        versions = queries.version_list(
            registry.state,
            request.params["subject"],
            deleted=request.flag("deleted"),
            deleted_only=request.flag("deleted_only"),
        )
    return page(versions, request)


def get_version(registry: Registry, request: Request) -> Any:
    version = version_arg(request.params["version"])
    with registry.state.lock:
        state = registry.state
        entry = queries.find_version(
            state, request.params["subject"], version, deleted=request.flag("deleted")
        )
        return queries.version_view(state, entry)


def get_version_schema(registry: Registry, request: Request) -> Any:
    view = get_version(registry, request)
    return Raw(str(view["schema"]).encode())


def referenced_by(registry: Registry, request: Request) -> Any:
    version = version_arg(request.params["version"])
    with registry.state.lock:
        ids = queries.referenced_by(registry.state, request.params["subject"], version)
    return page(ids, request)


def register(registry: Registry, request: Request) -> Any:
    subject = request.params["subject"]
    candidate = registry.candidate(schema_request(request.json_object()))
    normalize = request.flag("normalize")
    entry: VersionEntry = registry.change(
        lambda state: plan_registration(state, subject, candidate, normalize=normalize)
    )
    return {"id": entry.schema_id, "version": entry.version}


def lookup(registry: Registry, request: Request) -> Any:
    subject = request.params["subject"]
    wanted = schema_request(request.json_object())
    entry = registry.lookup(subject, wanted, deleted=request.flag("deleted"))
    with registry.state.lock:
        return queries.version_view(registry.state, entry)


def delete_subject(registry: Registry, request: Request) -> Any:
    subject, permanent = request.params["subject"], request.flag("permanent")
    return registry.change(lambda s: admin.delete_subject(s, subject, permanent=permanent))


def delete_version(registry: Registry, request: Request) -> Any:
    subject, permanent = request.params["subject"], request.flag("permanent")
    version = version_arg(request.params["version"])
    return registry.change(lambda s: admin.delete_version(s, subject, version, permanent=permanent))


# --- schemas by id ---------------------------------------------------------------------------


def schema_by_id(registry: Registry, request: Request) -> Any:
    schema_id = id_arg(request.params["id"])
    with registry.state.lock:
        return Raw(queries.schema_body(registry.state, schema_id))


def id_versions(registry: Registry, request: Request) -> Any:
    schema_id = id_arg(request.params["id"])
    with registry.state.lock:
        pairs = queries.id_versions(
            registry.state,
            schema_id,
            deleted=request.flag("deleted"),
            subject=request.text("subject"),
        )
    return page(pairs, request)


def id_subjects(registry: Registry, request: Request) -> Any:
    pairs = id_versions(registry, request)
    return list(dict.fromkeys(pair["subject"] for pair in pairs))


def list_schemas(registry: Registry, request: Request) -> Any:
    """Every version of the subjects with the prefix, by subject then version (Confluent's)."""
    prefix = request.text("subjectPrefix", "") or ""
    deleted, latest_only = request.flag("deleted"), request.flag("latestOnly")
    with registry.state.lock:
        views = queries.schema_list(
            registry.state,
            prefix="" if prefix == ":*:" else prefix,
            deleted=deleted,
            latest_only=latest_only,
        )
    return page(views, request)


def schema_types(registry: Registry, request: Request) -> Any:
    return list(SUPPORTED_TYPES)


# --- compatibility, config, mode ----------------------------------------------------------------


def test_compatibility(registry: Registry, request: Request) -> Any:
    raw_version = request.params.get("version")
    version = None if raw_version is None else version_arg(raw_version)
    wanted = schema_request(request.json_object())
    result = registry.test(request.params["subject"], wanted, version)
    answer: dict[str, Any] = {"is_compatible": result.compatible}
    if request.flag("verbose"):
        answer["messages"] = list(result.messages)
    return answer


def get_config(registry: Registry, request: Request) -> Any:
    with registry.state.lock:
        return queries.config_view(
            registry.state, subject_of(request), default_to_global=request.flag("defaultToGlobal")
        )


def put_config(registry: Registry, request: Request) -> Any:
    body = request.json_object()
    return registry.change(lambda s: admin.set_config(s, subject_of(request), body))


def delete_config(registry: Registry, request: Request) -> Any:
    return registry.change(lambda s: admin.delete_config(s, subject_of(request)))


def get_mode(registry: Registry, request: Request) -> Any:
    with registry.state.lock:
        return queries.mode_view(
            registry.state, subject_of(request), default_to_global=request.flag("defaultToGlobal")
        )


def put_mode(registry: Registry, request: Request) -> Any:
    body, force = request.json_object(), request.flag("force")
    return registry.change(lambda s: admin.set_mode(s, subject_of(request), body, force=force))


def delete_mode(registry: Registry, request: Request) -> Any:
    return registry.change(lambda s: admin.delete_mode(s, subject_of(request)))


# --- the rest ----------------------------------------------------------------------------------


def root(registry: Registry, request: Request) -> Any:
    return {}


def ready(registry: Registry, request: Request) -> Any:
    """200 when Kafka answers, the state is current and this instance writes; else 503."""
    now = registry.readiness()
    if not now.ready:
        raise NotReady(f"Not ready: {now.reason}")
    return {
        "ready": True,
        "instance": now.instance,
        "writer": now.writer,
        "position": now.position,
    }


def openapi(registry: Registry, request: Request) -> Any:
    return Raw(OPENAPI.read_bytes())


def contexts(registry: Registry, request: Request) -> Any:
    return ["."]


def associations(registry: Registry, request: Request) -> Any:
    # confluent-kafka 2.14+ serializers ask first; a 404 makes them fall back to the
    # topic-name strategy, which is what this registry's users rely on.
    raise NotFound("Associations are not supported by this registry")


SUBJECT_VERSION = "/subjects/{subject}/versions/{version}"
COMPATIBILITY = "/compatibility/subjects/{subject}/versions"

ROUTES: list[Route] = [
    route("GET", "/", root),
    route("GET", "/openapi.json", openapi),
    route("GET", "/subjects", list_subjects),
    route("POST", "/subjects/{subject}", lookup),
    route("DELETE", "/subjects/{subject}", delete_subject),
    route("GET", "/subjects/{subject}/versions", list_versions),
    route("POST", "/subjects/{subject}/versions", register),
    route("GET", SUBJECT_VERSION, get_version),
    route("DELETE", SUBJECT_VERSION, delete_version),
    route("GET", f"{SUBJECT_VERSION}/schema", get_version_schema),
    route("GET", f"{SUBJECT_VERSION}/referencedby", referenced_by),
    route("GET", "/schemas", list_schemas),
    route("GET", "/schemas/ids/{id}", schema_by_id),
    route("GET", "/schemas/ids/{id}/versions", id_versions),
    route("GET", "/schemas/ids/{id}/subjects", id_subjects),
    route("GET", "/schemas/types", schema_types),
    route("POST", COMPATIBILITY, test_compatibility),
    route("POST", f"{COMPATIBILITY}/{{version}}", test_compatibility),
    route("GET", "/config", get_config),
    route("PUT", "/config", put_config),
    route("DELETE", "/config", delete_config),
    route("GET", "/config/{subject}", get_config),
    route("PUT", "/config/{subject}", put_config),
    route("DELETE", "/config/{subject}", delete_config),
    route("GET", "/mode", get_mode),
    route("PUT", "/mode", put_mode),
    route("DELETE", "/mode", delete_mode),
    route("GET", "/mode/{subject}", get_mode),
    route("PUT", "/mode/{subject}", put_mode),
    route("DELETE", "/mode/{subject}", delete_mode),
    route("GET", "/contexts", contexts),
    route("GET", "/ready", ready),
    route("GET", "/associations/resources/{namespace}/{name}", associations),
]
