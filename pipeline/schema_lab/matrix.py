"""The compatibility matrix of one schema pair: each level's verdict, with evidence.

The verdict comes from the same checker the registry uses. The evidence is real data:
records written with each schema are decoded with the other (fastavro's schema
resolution), so the table shows what happens to data in each direction.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import avro.schema
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from pipeline.registry.compatibility import Existing, Level, check
from pipeline.schema_lab.samples import sample_records

SAMPLES = 60


@dataclass(frozen=True)
class Evidence:
    """`reader` decoding `records` records written with `writer` ("old" or "new")."""

    reader: str
    writer: str
    records: int
    failed: int
    first_error: str | None

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def text(self) -> str:
        head = f"{self.reader} schema reads {self.writer} data:"
        if self.ok:
            return f"{head} {self.records}/{self.records} records"
        return f"{head} {self.failed}/{self.records} records fail ({self.first_error})"


@dataclass(frozen=True)
class Row:
    level: Level
    accepted: bool
    reasons: tuple[str, ...]  # the checker's messages (`reasons.explain` words them)
    evidence: tuple[Evidence, ...]  # the directions this level requires


@dataclass(frozen=True)
class Matrix:
    rows: tuple[Row, ...]
    backward: Evidence  # new schema reading old data
    forward: Evidence  # old schema reading new data


def compatibility_matrix(old: dict[str, Any], new: dict[str, Any]) -> Matrix:
    backward = decode_experiment(writer=old, reader=new, names=("new", "old"))
    forward = decode_experiment(writer=new, reader=old, names=("old", "new"))
    old_avro, new_avro = _avro(old), _avro(new)
    rows = []
    for level in Level:
        result = check([Existing(1, old_avro)], new_avro, level)
        needed = ([backward] if level.backward else []) + ([forward] if level.forward else [])
        reasons = tuple(m for m in result.messages if m.startswith("{errorType"))
        rows.append(Row(level, result.compatible, reasons, tuple(needed)))
    return Matrix(tuple(rows), backward, forward)


def decode_experiment(
    *, writer: dict[str, Any], reader: dict[str, Any], names: tuple[str, str]
) -> Evidence:
    """Write sample records with `writer`, decode each with `reader` as its reader schema."""
    writer_parsed = parse_schema(writer)
    reader_parsed = parse_schema(reader)
    failed, first_error = 0, None
    for record in sample_records(writer, SAMPLES):
        buffer = io.BytesIO()
        schemaless_writer(buffer, writer_parsed, record)
        buffer.seek(0)
        try:
            schemaless_reader(buffer, writer_parsed, reader_parsed)
        except Exception as exc:  # fastavro raises several types for resolution failures
            failed += 1
            first_error = first_error or _short(exc)
    return Evidence(names[0], names[1], SAMPLES, failed, first_error)


def _avro(schema: dict[str, Any]) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(schema))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
