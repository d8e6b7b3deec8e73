"""Schema experiments against any registry that speaks Confluent's REST API.

`schema list / show / register / check / config / delete` call these functions; registry
errors are turned into `RegistryError`s whose message is what the registry said.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import avro.schema
from confluent_kafka.schema_registry import RegisteredSchema, SchemaRegistryClient

from pipeline.errors import ConfigError, RegistryError
from pipeline.registry.compatibility import Existing, Level, check
from pipeline.registry_client import (
    SUBJECT_NOT_FOUND,
    call,
    error_code,
    is_not_found,
    verbose_compatibility,
)

LEVELS = tuple(level.value for level in Level)


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
            if not is_not_found(exc):
                raise
    return global_level or call(client.get_compatibility, "reading the global level")


def show(client: SchemaRegistryClient, subject: str, version: int | None) -> RegisteredSchema:
    what = f"subject {subject!r}" + (f" version {version}" if version else "")
    if version is None:
        return call(lambda: client.get_latest_version(subject), what)
    return call(lambda: client.get_version(subject, version), what)


def check_compatibility(
    client: SchemaRegistryClient,
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
        return _ask_registry(client, subject, schema_str, subject_level(client, subject))
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
        if error_code(exc) == SUBJECT_NOT_FOUND:
            return []
        raise
    return [call(partial(client.get_version, subject, v), subject) for v in numbers]


def _ask_registry(
    client: SchemaRegistryClient, subject: str, schema_str: str, level: str
) -> CheckResult:
    """The registry's own verdict at the subject's level, with its reasons."""
    answer = verbose_compatibility(client, subject, schema_str)
    reasons = tuple(str(m) for m in answer.get("messages", []) if str(m).startswith("{errorType"))
    return CheckResult(
        bool(answer.get("is_compatible")), level, reasons or tuple(answer.get("messages", []))
    )


def _text(registered: RegisteredSchema) -> str:
    return registered.schema.schema_str or "" if registered.schema else ""
