"""Schema experiments against any registry that speaks Confluent's REST API.

`schema list / show / register / check / config / delete` call these functions; registry
errors are turned into `RegistryError`s whose message is what the registry said.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import avro.schema
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from pipeline.config import Settings
from pipeline.errors import ConfigError, RegistryError
from pipeline.registry.compatibility import Existing, Level, check
from pipeline.serde import registry_client

T = TypeVar("T")
LEVELS = tuple(level.value for level in Level)
SUBJECT_NOT_FOUND = 40401


@dataclass(frozen=True)
class SubjectInfo:
    subject: str
    versions: tuple[int, ...]
    ids: tuple[int, ...]
    level: str


@dataclass(frozen=True)
class CheckResult:
    compatible: bool
    level: str
    reasons: tuple[str, ...]
    note: str = ""


@contextmanager
def connected(settings: Settings) -> Iterator[SchemaRegistryClient]:
    client = registry_client(settings)
    try:
        yield client
    finally:
        client.close()


def call(action: Callable[[], T], what: str) -> T:
    """Run one registry call; its refusal becomes a one-line `RegistryError`."""
    try:
        return action()
    except SchemaRegistryError as exc:
        raise RegistryError(f"{what}: {exc.error_message} (error {exc.error_code})") from exc
    except Exception as exc:  # httpx's transport errors share no base with OSError
        raise RegistryError(f"{what}: cannot reach the schema registry ({exc})") from exc


def list_subjects(client: SchemaRegistryClient, global_level: str) -> list[SubjectInfo]:
    infos = []
    for subject in sorted(call(client.get_subjects, "listing subjects")):
        versions = _live_versions(client, subject)
        numbers = tuple(v.version or 0 for v in versions)
        ids = tuple(v.schema_id or 0 for v in versions)
        level = subject_level(client, subject, global_level)
        infos.append(SubjectInfo(subject, numbers, ids, level))
    return infos


def subject_level(
    client: SchemaRegistryClient, subject: str | None, global_level: str | None = None
) -> str:
    """The level in force for `subject`: its own, else the global one (asked once)."""
    if subject is not None:
        try:
            return call(partial(client.get_compatibility, subject), f"level of {subject!r}")
        except RegistryError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, SchemaRegistryError) and cause.http_status_code == 404):
                raise
    return global_level or call(client.get_compatibility, "reading the global level")


def show(client: SchemaRegistryClient, subject: str, version: int | None) -> RegisteredSchema:
    what = f"subject {subject!r}" + (f" version {version}" if version else "")
    if version is None:
        return call(lambda: client.get_latest_version(subject), what)
    return call(lambda: client.get_version(subject, version), what)


def register(client: SchemaRegistryClient, subject: str, schema_str: str) -> RegisteredSchema:
    """Register (or find again) `schema_str`; the registry's refusal names its reasons."""
    schema = Schema(schema_str, "AVRO")
    call(lambda: client.register_schema(subject, schema), f"registering in {subject!r}")
    return call(lambda: client.lookup_schema(subject, schema), f"looking up in {subject!r}")


def check_compatibility(
    client: SchemaRegistryClient,
    settings: Settings,
    subject: str,
    schema_str: str,
    level: str | None,
) -> CheckResult:
    """A dry run: would `subject` accept `schema_str`? At its own level, or at `level`."""
    versions = _live_versions(client, subject)
    if not versions:
        used = level or subject_level(client, None)
        return CheckResult(True, used, (), note=f"subject {subject!r} has no versions yet")
    if level is None:
        return _ask_registry(settings, subject, schema_str, subject_level(client, subject))
    existing = [Existing(v.version or 0, avro.schema.parse(_text(v))) for v in versions]
    result = check(existing, avro.schema.parse(schema_str), parse_level(level))
    reasons = tuple(m for m in result.messages if m.startswith("{errorType"))
    return CheckResult(result.compatible, level, reasons, note="checked locally at this level")


def get_or_set_level(client: SchemaRegistryClient, subject: str | None, level: str | None) -> str:
    if level is None:
        return subject_level(client, subject)
    chosen = parse_level(level).value
    where = f"subject {subject!r}" if subject else "the global level"
    call(lambda: client.set_compatibility(subject, chosen), f"setting {where}")
    return chosen


def delete(
    client: SchemaRegistryClient, subject: str, version: int | None, permanent: bool
) -> list[int]:
    what = f"deleting {subject!r}" + (f" version {version}" if version else "")
    if version is None:
        return call(lambda: client.delete_subject(subject, permanent), what)
    return [call(lambda: client.delete_version(subject, version, permanent), what)]


def parse_level(level: str) -> Level:
    try:
        return Level(level.upper())
    except ValueError:
        raise ConfigError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}") from None


def _live_versions(client: SchemaRegistryClient, subject: str) -> list[RegisteredSchema]:
    """The subject's live versions; none for a subject the registry does not know."""
    try:
        numbers = call(partial(client.get_versions, subject), f"versions of {subject!r}")
    except RegistryError as exc:
        cause = exc.__cause__
        if isinstance(cause, SchemaRegistryError) and cause.error_code == SUBJECT_NOT_FOUND:
            return []
        raise
    return [call(partial(client.get_version, subject, v), subject) for v in numbers]


def _ask_registry(settings: Settings, subject: str, schema_str: str, level: str) -> CheckResult:
    """POST /compatibility/subjects/{s}/versions?verbose=true: the registry's own verdict.

    confluent-kafka's client returns only the boolean, so the reasons are read here.
    """
    path = f"/compatibility/subjects/{urllib.parse.quote(subject, safe='')}/versions?verbose=true"
    answer = _post_json(settings, path, {"schema": schema_str})
    reasons = tuple(str(m) for m in answer.get("messages", []) if str(m).startswith("{errorType"))
    return CheckResult(
        bool(answer.get("is_compatible")), level, reasons or tuple(answer.get("messages", []))
    )


def _post_json(settings: Settings, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        settings.registry_url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        method="POST",
    )
    if settings.registry_auth:
        token = base64.b64encode(settings.registry_auth.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    what = f"compatibility check in {subject_of(path)!r}"
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise RegistryError(f"{what}: {_error_message(exc)}") from exc
    except OSError as exc:
        raise RegistryError(f"cannot reach the schema registry: {exc}") from exc
    except ValueError as exc:  # an answer that is not a JSON object (a proxy's page, say)
        raise RegistryError(f"{what}: the registry's answer is not JSON ({exc})") from exc


def _error_message(exc: urllib.error.HTTPError) -> str:
    """Confluent's {"error_code", "message"} body, or the HTTP reason if it is not one."""
    try:
        return str(json.loads(exc.read() or b"{}").get("message", exc.reason))
    except (ValueError, AttributeError):
        return str(exc.reason)


def _text(registered: RegisteredSchema) -> str:
    return registered.schema.schema_str or "" if registered.schema else ""


def subject_of(path: str) -> str:
    return urllib.parse.unquote(path.split("/")[3])
