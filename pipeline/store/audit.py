"""The SQLite audit store's writer: one transaction per batch of events, idempotent, evolving.

For each writer schema id it has not met (ids are the registry's: the store is opened with
the registry's id), the store decides (once, recorded in `schema_versions`, cached here)
whether the `events` table can take it, adds the new columns if so, and plans its rows. The
batch is then written in one transaction: events with ON CONFLICT (event_id) DO NOTHING (a
replay never makes a second row; any other constraint failing is an error, not a skip),
orders by upsert, and the partitions' positions (`positions.PositionBook`). Consecutive
events of one schema share one `executemany`, so interleaved versions keep their arrival
order and a uniform batch is a single statement.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlite_utils import Database

from pipeline.errors import StoreError
from pipeline.model import Event, PartitionRef, Refusal, WriterSchema
from pipeline.store import tables, versions
from pipeline.store.admission import decide
from pipeline.store.base import NO_KEY, WriteResult, refusal_text, schema_row
from pipeline.store.orders import UPSERT_SQL, aggregate, order_row
from pipeline.store.positions import PositionBook
from pipeline.store.rows import IsoMillis, RowPlan, field_values, iso_timestamp, plan_rows


class AuditStore:
    """Build with `AuditStore.open(path)`; close it (or use it as a context manager)."""

    def __init__(self, db: Database, path: Path, registry_id: str = "") -> None:
        self.db = db
        self.path = path
        self.where = str(path)
        self.registry_id = registry_id  # whose schema ids the events carry ('' unknown)
        # Per schema id: its row plan, or the reason its events are refused.
        self._plans: dict[int, RowPlan | str] = {}
        self._iso = IsoMillis()  # the text of the events' timestamps, recent seconds kept

    @classmethod
    def open(cls, path: Path, *, registry_id: str = "", create_folder: bool = True) -> AuditStore:
        """Open or create the store, upgrading a file of an earlier release; StoreError
        (one line) for a file that is not an audit store or a folder that is missing."""
        try:
            db = versions.connect(path, create_folder=create_folder)
        except (StoreError, sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the audit store {path}: {exc}") from exc
        return cls(db, path, registry_id)

    def positions(self, partitions: Sequence[PartitionRef]) -> dict[PartitionRef, int]:
        """The next offset to read of each of `partitions` the store holds a position for."""
        try:
            return tables.positions(self.db, partitions)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the audit store {self.path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def write(self, events: Sequence[Event], book: PositionBook | None = None) -> WriteResult:
        """Store a batch durably in one transaction, with the positions `book` plans for
        it; return what was refused and why."""
        if not events:
            return WriteResult(0, 0, ())
        now = _stored_at()
        try:
            with self._immediate():
                staged = self._resolve(events, now)
                result = self._insert(events, {**self._plans, **staged}, now)
                if book is not None:
                    moved = book.plan(events, [r.event for r in result.refusals])
                    tables.save_positions(self.db.conn, moved, now)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the audit store {self.path}: {exc}") from exc
        # Only now: a rolled-back transaction also rolled back the columns it added.
        self._plans.update(staged)
        if book is not None:
            book.settle()
        return result

    def save_positions(self, moved: Mapping[PartitionRef, int]) -> None:
        if not moved:
            return
        try:
            with self._immediate():
                tables.save_positions(self.db.conn, moved, _stored_at())
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the audit store {self.path}: {exc}") from exc

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: a second storage instance waits for it
        # (busy timeout) instead of failing on a stale snapshot, and evolution decisions are
        # made against the table as it is, not as another instance left it a moment ago.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.rollback()
            raise

    def _resolve(self, events: Sequence[Event], now: str) -> dict[int, RowPlan | str]:
        staged: dict[int, RowPlan | str] = {}
        for event in events:
            schema = event.schema
            if schema.schema_id not in self._plans and schema.schema_id not in staged:
                staged[schema.schema_id] = self._resolve_one(schema, now)
        return staged

    def _resolve_one(self, schema: WriterSchema, now: str) -> RowPlan | str:
        prior = tables.recorded(self.db, self.registry_id, schema.schema_id)
        if prior is not None and not prior[0]:
            return refusal_text(schema, prior[1])
        first = not tables.any_accepted(self.db)
        decision = decide(schema.definition, tables.columns(self.db), first=first)
        if decision.accepted:
            added_by = (self.registry_id, schema.schema_id)
            tables.add_columns(self.db, decision.new_columns, added_by, now)
        if prior is None:
            row = schema_row(schema, decision.accepted, decision.reason, now)
            tables.record_schema(self.db, {"schema_registry_id": self.registry_id, **row})
        if not decision.accepted:
            return refusal_text(schema, decision.reason)
        return plan_rows(schema.schema_id, schema.version, decision.placements, iso=self._iso)

    def _insert(
        self, events: Sequence[Event], plans: Mapping[int, RowPlan | str], now: str
    ) -> WriteResult:
        refusals: list[Refusal] = []
        orders: list[list[Any]] = []
        stored = accepted = 0
        for schema_id, run in groupby(events, key=lambda event: event.schema.schema_id):
            plan = plans[schema_id]
            if isinstance(plan, str):
                refusals.extend(Refusal(event, plan) for event in run)
                continue
            rows: list[tuple[Event, list[Any]]] = []
            for event in run:
                fields = field_values(plan, event.value)
                if fields[plan.key_index] is None:
                    refusals.append(Refusal(event, NO_KEY))
                    continue
                fields += (
                    event.topic,
                    event.topic_id,
                    event.partition,
                    event.offset,
                    self.registry_id,
                    schema_id,
                    plan.version,
                    now,
                )
                rows.append((event, fields))
            stored_run, kept = self._insert_run(plan, rows, refusals)
            stored += stored_run
            accepted += len(kept)
            orders.extend(o for row in kept if (o := order_row(plan, row, now)))
        if orders:
            self.db.conn.executemany(UPSERT_SQL, aggregate(orders))
        return WriteResult(stored, accepted - stored, tuple(refusals))

    def _insert_run(
        self, plan: RowPlan, rows: list[tuple[Event, list[Any]]], refusals: list[Refusal]
    ) -> tuple[int, list[list[Any]]]:
        """INSERT a run of rows, skipping known event ids: (rows stored, rows kept). A row
        SQLite cannot take (a value it cannot bind) is refused alone, so one bad event never
        blocks a partition; the savepoint undoes the part of the run stored before it failed."""
        conn = self.db.conn
        conn.execute("SAVEPOINT run")
        try:
            stored = conn.executemany(plan.insert_sql, [row for _, row in rows]).rowcount
            conn.execute("RELEASE run")
            return stored, [row for _, row in rows]
        except (sqlite3.Error, OverflowError) as exc:
            conn.execute("ROLLBACK TO run")
            conn.execute("RELEASE run")
            if not _unbindable(exc):
                raise
        stored, kept = 0, []
        for event, row in rows:
            try:
                stored += conn.execute(plan.insert_sql, row).rowcount
                kept.append(row)
            except (sqlite3.Error, OverflowError) as exc:
                if not _unbindable(exc):
                    raise
                refusals.append(Refusal(event, f"a value of this event cannot be stored: {exc}"))
        return stored, kept


def _stored_at() -> str:
    # Milliseconds, like the events' own timestamps, so the column has one format and sorts.
    now = dt.datetime.now(dt.UTC)
    return str(iso_timestamp(now.replace(microsecond=now.microsecond // 1000 * 1000)))


def _unbindable(exc: Exception) -> bool:
    """A Python value SQLite cannot keep (the decoder never hands one over), not a failure
    of the store itself."""
    return isinstance(exc, OverflowError | sqlite3.InterfaceError) or "binding" in str(exc)
