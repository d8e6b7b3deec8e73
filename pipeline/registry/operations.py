"""The registry's front door for everything that needs more than a lookup.

A write is decided by a pure function of the state (`Change`: the answer plus the records
to write), under one write lock and the state lock; the records are then written to Kafka
in one transaction and `write` returns once the reader thread has applied them, so the
caller's next read sees them. Reads go straight to `queries` with `state.lock` held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import avro.schema

from pipeline.registry import compatibility
from pipeline.registry.errors import SchemaNotFound, SubjectNotFound
from pipeline.registry.queries import LATEST, find_version, level_of
from pipeline.registry.readiness import Readiness
from pipeline.registry.schemas import AVRO, Reference, check_schema_type, identity, parse_avro
from pipeline.registry.state import State, VersionEntry

Records = tuple[tuple[bytes, bytes | None], ...]


class Store(Protocol):
    def prepare(self) -> None:
        """Called before deciding a write: refuse unless this instance can write now, and
        settle an earlier write whose fate is unknown by reading what was stored."""

    def write(self, batch: Records) -> None:
        """Write the records durably, all or none; return once the state has applied them."""

    def readiness(self) -> Readiness:
        """Whether the registry can serve reads and writes now, and if not, why."""


@dataclass(frozen=True, kw_only=True)
class SchemaRequest:
    """A schema as a client sends it to register, look up or test."""

    schema: str
    schema_type: str = AVRO
    references: tuple[Reference, ...] = ()
    schema_id: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class Candidate:
    """A requested schema that parsed, with its identity (equal for equal schemas)."""

    request: SchemaRequest
    parsed: avro.schema.Schema
    identity: str


@dataclass(frozen=True)
class Change:
    """What a write answers, and the `_schemas` records that make it happen."""

    result: Any
    records: Records = ()


class Registry:
    def __init__(self, state: State, store: Store) -> None:
        self.state = state
        self._store = store
        self._write_lock = threading.Lock()

    def change(self, decide: Callable[[State], Change]) -> Any:
        """Decide against the current state, write the records, return the answer."""
        with self._write_lock:
            self._store.prepare()
            with self.state.lock:
                outcome = decide(self.state)
            if outcome.records:
                self._store.write(outcome.records)
        return outcome.result

    def readiness(self) -> Readiness:
        return self._store.readiness()

    def candidate(self, request: SchemaRequest) -> Candidate:
        """Validate a requested schema (type, Avro, references) against the current state."""
        check_schema_type(request.schema_type)
        with self.state.lock:
            dependencies = self.state.dependencies(request.references)
        parsed = parse_avro(request.schema, dependencies)
        return Candidate(request, parsed, identity(parsed, request.references))

    def lookup(self, subject: str, request: SchemaRequest, *, deleted: bool) -> VersionEntry:
        """The subject's version holding this schema (40401 / 40403 if none)."""
        candidate = self.candidate(request)
        with self.state.lock:
            found = matching_version(self.state, subject, candidate, deleted=deleted)
            if found is not None:
                return found
            if not self.state.versions(subject, deleted=deleted):
                raise SubjectNotFound(subject)
            raise SchemaNotFound("Schema not found")

    def test(
        self, subject: str, request: SchemaRequest, version: int | None
    ) -> compatibility.CompatibilityResult:
        """Test against one version (a number or LATEST), or as registration would (None)."""
        candidate = self.candidate(request)
        with self.state.lock:
            live = self.state.versions(subject)
            if version is None or (version == LATEST and not live):
                targets = live
            else:
                targets = [find_version(self.state, subject, version, deleted=False)]
            existing = [existing_version(self.state, e) for e in targets]
            level = level_of(self.state, subject)
        return compatibility.check(existing, candidate.parsed, level)


def matching_version(
    state: State, subject: str, candidate: Candidate, *, deleted: bool
) -> VersionEntry | None:
    """The newest version of the subject holding the same schema, if any."""
    for entry in reversed(state.versions(subject, deleted=deleted)):
        if state.identity_of(state.schemas[entry.schema_id]) == candidate.identity:
            return entry
    return None


def existing_version(state: State, entry: VersionEntry) -> compatibility.Existing:
    return compatibility.Existing(entry.version, state.parsed(state.schemas[entry.schema_id]))
