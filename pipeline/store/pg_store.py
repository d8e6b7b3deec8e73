"""The audit store on PostgreSQL: several storage instances, one database, one transaction
per batch.

A batch goes in two steps. First, each writer schema id the store has not met is judged by
the shared rules (`admission.decide`, with PostgreSQL's typed columns) in a short
transaction of its own: an advisory lock serializes it across instances, `lock_timeout`
bounds its wait for `ALTER TABLE` (retried), and it never runs inside a transaction that
wrote rows. Then one transaction: the rows COPYed into staging and moved into `events` (see
`pg_staging`), the batch's orders aggregated and upserted in one statement, the partitions'
positions upserted (`positions`). Rows, orders and positions are locked in key order, so
concurrent instances never deadlock.

If the server cannot be reached or goes away (a restart), the batch is tried again on a new
connection, with a growing pause, for up to RECONNECT_TIMEOUT_S; the transaction that was
cut off left nothing behind. Any other failure (a full disk, a missing privilege) stops the
service with one line.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import groupby
from typing import Any, TypeVar

import psycopg

from pipeline.errors import StoreError
from pipeline.model import Event, PartitionRef, Refusal, WriterSchema
from pipeline.store import pg_connect, pg_tables
from pipeline.store.admission import decide
from pipeline.store.base import NO_KEY, WriteResult, refusal_text, schema_row
from pipeline.store.orders import aggregate, order_row
from pipeline.store.pg_staging import Row, Staging
from pipeline.store.positions import PositionBook
from pipeline.store.rows import RowPlan, aware_datetime, field_values, plan_rows

log = logging.getLogger(__name__)
T = TypeVar("T")
RECONNECT_TIMEOUT_S = 60.0
LOCK_TIMEOUT = "2s"  # how long an ALTER TABLE waits for other instances' batches
EVOLVE_TRIES = 15


class PostgresStore:
    """Build with `PostgresStore.open(url)`; close it (or use it as a context manager)."""

    def __init__(self, url: str, registry_id: str = "") -> None:
        self.url = url
        self.where = pg_connect.where(url)  # shown to people: no user, no password
        self.registry_id = registry_id
        self._conn: psycopg.Connection | None = None
        self._plans: dict[int, RowPlan | str] = {}
        self._staging = Staging()

    @classmethod
    def open(cls, url: str, *, registry_id: str = "") -> PostgresStore:
        store = cls(url, registry_id)
        store._connection()
        return store

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def positions(self, partitions: Sequence[PartitionRef]) -> dict[PartitionRef, int]:
        def read(conn: psycopg.Connection) -> dict[PartitionRef, int]:
            with conn.transaction():
                return pg_tables.positions(conn, partitions)

        return self._retrying(read)

    def write(self, events: Sequence[Event], book: PositionBook | None = None) -> WriteResult:
        """Store a batch in one transaction, with the positions `book` plans for it."""
        if not events:
            return WriteResult(0, 0, ())
        return self._retrying(lambda conn: self._write(conn, events, book))

    def save_positions(self, moved: Mapping[PartitionRef, int]) -> None:
        if not moved:
            return

        def save(conn: psycopg.Connection) -> None:
            with conn.transaction():
                pg_tables.save_positions(conn, moved, dt.datetime.now(dt.UTC))

        self._retrying(save)

    def _write(
        self, conn: psycopg.Connection, events: Sequence[Event], book: PositionBook | None
    ) -> WriteResult:
        now = dt.datetime.now(dt.UTC)
        for schema in {event.schema.schema_id: event.schema for event in events}.values():
            if schema.schema_id not in self._plans:
                self._plans[schema.schema_id] = self._evolve(conn, schema, now)
        with conn.transaction():
            result = self._batch(conn, events, now, book)
        self._staging.committed()
        if book is not None:
            book.settle()
        return result

    def _batch(
        self,
        conn: psycopg.Connection,
        events: Sequence[Event],
        now: dt.datetime,
        book: PositionBook | None,
    ) -> WriteResult:
        refusals: list[Refusal] = []
        runs: list[tuple[RowPlan, list[Row]]] = []
        for schema_id, run in groupby(events, key=lambda event: event.schema.schema_id):
            plan = self._plans[schema_id]
            if isinstance(plan, str):
                refusals.extend(Refusal(event, plan) for event in run)
            else:
                runs.append((plan, self._rows(plan, run, now, refusals)))
        needed = {column for plan, _ in runs for column in plan.columns}
        self._staging.prepare(conn, needed)
        orders: list[list[Any]] = []
        accepted = 0
        for plan, rows in runs:
            kept, refused = self._staging.copy(conn, plan.columns, rows)
            refusals.extend(refused)
            accepted += len(kept)
            orders.extend(o for _, r in kept if (o := order_row(plan, r, now, aware_datetime)))
        order = [c for c in self._staging.current() if c in needed]
        stored = self._staging.insert_into_events(conn, order) if accepted else 0
        if orders:
            self._staging.upsert_orders(conn, aggregate(orders))
        if book is not None:
            moved = book.plan(events, [refusal.event for refusal in refusals])
            pg_tables.save_positions(conn, moved, now)
        return WriteResult(stored, accepted - stored, tuple(refusals))

    def _rows(
        self, plan: RowPlan, run: Any, now: dt.datetime, refusals: list[Refusal]
    ) -> list[Row]:
        rows: list[Row] = []
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
                plan.schema_id,
                plan.version,
                now,
            )
            rows.append((event, fields))
        return rows

    def _evolve(
        self, conn: psycopg.Connection, schema: WriterSchema, now: dt.datetime
    ) -> RowPlan | str:
        """Judge a writer schema and add its columns, in a short transaction of its own."""
        for attempt in range(EVOLVE_TRIES):
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    conn.execute(pg_tables.LOCK_SQL)
                    return self._judge(conn, schema, now)
            except psycopg.errors.LockNotAvailable:
                log.info("the events table is busy; altering it again (try %d)", attempt + 2)
                time.sleep(min(2.0, 0.1 * 2**attempt))
        raise StoreError(
            f"cannot alter the audit store at {self.where}: other writers held its tables "
            f"for {EVOLVE_TRIES} tries of {LOCK_TIMEOUT}"
        )

    def _judge(
        self, conn: psycopg.Connection, schema: WriterSchema, now: dt.datetime
    ) -> RowPlan | str:
        prior = pg_tables.recorded(conn, self.registry_id, schema.schema_id)
        if prior is not None and not prior[0]:
            return refusal_text(schema, prior[1])
        first = not pg_tables.any_accepted(conn)
        columns = pg_tables.columns(conn)
        decision = decide(schema.definition, columns, first=first, typed=True)
        if decision.accepted:
            added_by = (self.registry_id, schema.schema_id)
            pg_tables.add_columns(conn, decision.new_columns, added_by, now)
        if prior is None:
            row = schema_row(schema, decision.accepted, decision.reason, now)
            pg_tables.record_schema(conn, {"schema_registry_id": self.registry_id, **row})
        if not decision.accepted:
            return refusal_text(schema, decision.reason)
        return plan_rows(schema.schema_id, schema.version, decision.placements, typed=True)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = pg_connect.connect(self.url, "order-pipeline storage")
            try:
                pg_tables.set_up(conn)
            except psycopg.Error as exc:
                conn.close()
                raise self._failure(exc, "set up") from exc
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._staging.reset()
        return self._conn

    def _retrying(self, action: Callable[[psycopg.Connection], T]) -> T:
        """Run `action` on the connection; again on a new one while the server is away."""
        deadline = time.monotonic() + RECONNECT_TIMEOUT_S
        pause = 0.25
        while True:
            try:
                return action(self._connection())
            except (psycopg.Error, pg_connect.StoreUnreachable) as exc:
                unreachable = isinstance(exc, pg_connect.StoreUnreachable) or (
                    pg_connect.is_unreachable(exc)
                )
                if not unreachable:
                    raise self._failure(exc, "write to") from exc
                self.close()
                if time.monotonic() + pause > deadline:
                    raise StoreError(
                        f"the audit store at {self.where} is unreachable: gave up after "
                        f"{RECONNECT_TIMEOUT_S:.0f} s ({pg_connect.reason(exc)})"
                    ) from exc
                log.warning(
                    "the audit store at %s is unreachable (%s); trying again in %.1f s",
                    self.where,
                    pg_connect.reason(exc),
                    pause,
                )
                time.sleep(pause)
                pause = min(5.0, pause * 2)

    def _failure(self, exc: BaseException, doing: str) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        return StoreError(
            f"cannot {doing} the audit store at {self.where}: {pg_connect.reason(exc)}"
        )
