"""The registry's in-memory state, built only by applying `_schemas` records in order.

One reader thread applies records (`apply`); request threads read under `lock`. Nothing
here writes to Kafka or decides whether a request is allowed: that is `operations.py`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import avro.schema

from pipeline.registry import records
from pipeline.registry.errors import InvalidSchema
from pipeline.registry.schemas import AVRO, Reference, identity, parse_avro

log = logging.getLogger(__name__)


@dataclass
class SchemaEntry:
    """One schema id: its text, type and references, parsed lazily and cached."""

    schema_id: int
    text: str
    schema_type: str = AVRO
    references: tuple[Reference, ...] = ()
    parsed: avro.schema.Schema | None = None
    identity: str | None = None
    # The body of GET /schemas/ids/{id}, encoded once: the hottest path of the registry.
    body: bytes | None = None


@dataclass
class VersionEntry:
    subject: str
    version: int
    schema_id: int
    deleted: bool = False


@dataclass
class State:
    schemas: dict[int, SchemaEntry] = field(default_factory=dict)
    subjects: dict[str, dict[int, VersionEntry]] = field(default_factory=dict)
    identities: dict[str, int] = field(default_factory=dict)
    configs: dict[str | None, str] = field(default_factory=dict)
    modes: dict[str | None, str] = field(default_factory=dict)
    max_id: int = 0
    # From this registry's own record: the highest id ever handed out (ids of hard-deleted
    # schemas included) and the instance that writes the topic.
    id_mark: int = 0
    writer: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- applying records (reader thread) -------------------------------------------------

    def apply(self, record: records.Record) -> None:
        handler = self._handlers().get(record.keytype)
        if handler is None:
            return  # NOOP and record types this registry does not use
        with self.lock:
            handler(record.key, record.value)

    def _handlers(self) -> dict[str, Any]:
        return {
            records.SCHEMA: self._apply_schema,
            records.CONFIG: self._apply_config,
            records.MODE: self._apply_mode,
            records.DELETE_SUBJECT: self._apply_delete_subject,
            records.NOOP: self._apply_registry,
        }

    def _apply_schema(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        subject, version = str(key["subject"]), int(key["version"])
        if value is None:
            self._remove_version(subject, version)
            return
        schema_id = int(value["id"])
        if schema_id not in self.schemas:
            self.schemas[schema_id] = SchemaEntry(
                schema_id=schema_id,
                text=str(value["schema"]),
                schema_type=str(value.get("schemaType") or AVRO),
                references=records.references_of(value),
            )
            self._index_identity(self.schemas[schema_id])
        self.max_id = max(self.max_id, schema_id)
        deleted = bool(value.get("deleted", False))
        self.subjects.setdefault(subject, {})[version] = VersionEntry(
            subject, version, schema_id, deleted
        )

    def _remove_version(self, subject: str, version: int) -> None:
        versions = self.subjects.get(subject, {})
        entry = versions.pop(version, None)
        if not versions:
            self.subjects.pop(subject, None)
        if entry is None or self.is_schema_used(entry.schema_id):
            return
        removed = self.schemas.pop(entry.schema_id, None)
        if removed is not None and removed.identity is not None:
            self.identities.pop(removed.identity, None)

    def _apply_config(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        subject = key.get("subject")
        if value is None or not value.get("compatibilityLevel"):
            self.configs.pop(subject, None)
        else:
            self.configs[subject] = str(value["compatibilityLevel"]).upper()

    def _apply_mode(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        subject = key.get("subject")
        if value is None or not value.get("mode"):
            self.modes.pop(subject, None)
        else:
            self.modes[subject] = str(value["mode"]).upper()

    def _apply_delete_subject(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        if value is None:
            return
        subject, upto = str(value.get("subject", key.get("subject"))), int(value["version"])
        for entry in self.subjects.get(subject, {}).values():
            if entry.version <= upto:
                entry.deleted = True

    def _apply_registry(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        """This registry's own record; Confluent's NOOPs (null values) say nothing."""
        if value is None or "maxSchemaId" not in value:
            return
        self.id_mark = max(self.id_mark, int(value["maxSchemaId"]))
        self.max_id = max(self.max_id, self.id_mark)
        writer = value.get("writer")
        self.writer = str(writer) if writer is not None else self.writer

    def _index_identity(self, entry: SchemaEntry) -> None:
        try:
            self.identities.setdefault(self.identity_of(entry), entry.schema_id)
        except InvalidSchema as exc:
            log.warning("schema id %s in the topic does not parse: %s", entry.schema_id, exc)

    # --- reading (request threads hold `lock`) --------------------------------------------

    def is_schema_used(self, schema_id: int) -> bool:
        return any(
            e.schema_id == schema_id
            for versions in self.subjects.values()
            for e in versions.values()
        )

    def versions(self, subject: str, *, deleted: bool = False) -> list[VersionEntry]:
        """The subject's versions, oldest first; soft-deleted ones only when asked."""
        entries = self.subjects.get(subject, {}).values()
        return sorted((e for e in entries if deleted or not e.deleted), key=lambda e: e.version)

    def parsed(self, entry: SchemaEntry) -> avro.schema.Schema:
        if entry.parsed is None:
            entry.parsed = parse_avro(entry.text, self.dependencies(entry.references))
        return entry.parsed

    def identity_of(self, entry: SchemaEntry) -> str:
        if entry.identity is None:
            entry.identity = identity(self.parsed(entry), entry.references)
        return entry.identity

    def dependencies(self, references: tuple[Reference, ...], depth: int = 0) -> list[str]:
        """Texts of the referenced schemas, innermost first, each once."""
        if depth > 32:
            raise InvalidSchema("Invalid schema: references nest deeper than 32 levels")
        texts: list[str] = []
        for ref in references:
            version = self.subjects.get(ref.subject, {}).get(ref.version)
            if version is None or version.schema_id not in self.schemas:
                raise InvalidSchema(
                    f"Invalid schema: reference '{ref.name}' names subject '{ref.subject}' "
                    f"version {ref.version}, which does not exist"
                )
            target = self.schemas[version.schema_id]
            for text in [*self.dependencies(target.references, depth + 1), target.text]:
                if text not in texts:
                    texts.append(text)
        return texts
