"""Schema experiments against any registry that speaks Confluent's REST API.

`schema list / show / register / check / config / delete` call these functions; registry
errors are turned into `RegistryError`s whose message is what the registry said.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import partial

import avro.schema
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient

from pipeline import registry_client
from pipeline.errors import ConfigError, RegistryError
from pipeline.registry.compatibility import Existing, Level, check
from pipeline.registry_client import (
    SUBJECT_NOT_FOUND,
    RegistryUnavailable,
    call,
    error_code,
    is_not_found,
    verbose_compatibility,
)
from pipeline.schema_lab.reasons import explain

LEVELS = tuple(level.value for level in Level)
INCOMPATIBLE = 409  # Confluent's error code for a schema the subject's level refuses
SUBJECT_SOFT_DELETED, SUBJECT_NOT_SOFT_DELETED = 40404, 40405
VERSION_SOFT_DELETED, VERSION_NOT_SOFT_DELETED = 40406, 40407
_LEVEL_IN_409 = re.compile(r"compatibility: '(\w+)'")


@dataclass(frozen=True)
class SubjectInfo:
    subject: str
    versions: tuple[int, ...]
    ids: tuple[int, ...]
    level: str


class SchemaRefused(RegistryError):
    """The registry refused a schema as incompatible (409); `reasons` are sentences.
    The message reads after the schema's name: "order_event.breaking.avsc refused in ..."."""

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


@dataclass(frozen=True)
class Registered:
    subject: str
    version: int
    schema_id: int
    already: bool  # the subject held this schema before: nothing was added


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


def register(client: SchemaRegistryClient, subject: str, schema_str: str) -> Registered:
    """Register `schema_str` in `subject`, or find it there already; a refusal is a
    `SchemaRefused` whose reasons name the field, the types and the version."""
    before = _existing(client, subject, schema_str)
    if before is not None:
        return Registered(subject, before.version or 0, before.schema_id or 0, already=True)
    try:
        found = registry_client.register(client, subject, schema_str)
    except RegistryError as exc:
        if error_code(exc) != INCOMPATIBLE:
            raise
        reasons = explain([str(exc)], new_schema=json.loads(schema_str))
        level = _LEVEL_IN_409.search(str(exc))
        at = f" at {level.group(1)}" if level else ""
        raise SchemaRefused(f"refused in {subject!r}{at}: " + "; ".join(reasons), reasons) from exc
    return Registered(subject, found.version or 0, found.schema_id or 0, already=False)


def _existing(
    client: SchemaRegistryClient, subject: str, schema_str: str
) -> RegisteredSchema | None:
    """The version of `subject` that is `schema_str`, if any (a lookup never registers)."""
    try:
        return call(
            lambda: client.lookup_schema(subject, Schema(schema_str, "AVRO")),
            f"looking up in {subject!r}",
        )
    except RegistryError as exc:
        if isinstance(exc, RegistryUnavailable) or not is_not_found(exc):
            raise
        return None


@dataclass(frozen=True)
class LevelInForce:
    level: str
    inherited: bool  # the subject has no level of its own: the global one applies


def level_in_force(client: SchemaRegistryClient, subject: str) -> LevelInForce:
    try:
        own = call(partial(client.get_compatibility, subject), f"level of {subject!r}")
    except RegistryError as exc:
        if not is_not_found(exc):
            raise
        return LevelInForce(subject_level(client, None), inherited=True)
    return LevelInForce(own, inherited=False)


def set_level(
    client: SchemaRegistryClient, subject: str | None, level: str, *, create: bool = False
) -> str:
    """Set the global level, or a subject's; a subject with no versions only with `create`
    (a typo would otherwise make a new subject with its own level, silently)."""
    chosen = parse_level(level).value
    if subject is not None and not create and not _live_versions(client, subject):
        raise ConfigError(
            f"subject {subject!r} does not exist: check the name (python cli.py schema list), "
            "or add --create to set the level of a subject before its first schema"
        )
    where = f"subject {subject!r}" if subject else "the global level"
    call(lambda: client.set_compatibility(subject, chosen), f"setting {where}")
    return chosen


def delete(
    client: SchemaRegistryClient, subject: str, version: int | None, permanent: bool
) -> list[int]:
    what = f"deleting {subject!r}" + (f" version {version}" if version else "")
    try:
        if version is None:
            return call(lambda: client.delete_subject(subject, permanent), what)
        return [call(lambda: client.delete_version(subject, version, permanent), what)]
    except RegistryError as exc:
        hint = _delete_hint(error_code(exc), subject, version)
        if hint is None:
            raise
        raise RegistryError(hint) from exc


def _delete_hint(code: int | None, subject: str, version: int | None) -> str | None:
    """The registry's "Set permanent=true" in the words of this CLI."""
    target = f"version {version} of {subject!r}" if version else f"subject {subject!r}"
    command = f"python cli.py schema delete {subject}" + (
        f" --version {version}" if version else ""
    )
    if code in (SUBJECT_SOFT_DELETED, VERSION_SOFT_DELETED):
        return f"{target} is already soft-deleted; to delete it for good: {command} --permanent"
    if code in (SUBJECT_NOT_SOFT_DELETED, VERSION_NOT_SOFT_DELETED):
        return (
            f"{target} must be soft-deleted before a permanent delete: {command}, "
            "then the same with --permanent"
        )
    return None


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
