"""`python -m pipeline.benchmark.store_postgres`: the PostgreSQL audit store against the ways
a sink usually writes, with 1, 2 and 3 instances at once.

In one run, on the same server, each measurement in a fresh schema, decoded v1 events in
batches of the runner's size (only the writes are timed, not making the events):
  * ours: `PostgresStore.write` — COPY into staging, one INSERT ... ON CONFLICT DO NOTHING,
    orders aggregated and upserted in one statement, positions, one commit per batch;
  * multi-row INSERT, one statement and one commit per batch, into `events` only (what
    Kafka Connect's JDBC sink does with `batch.size`);
  * textbook: one INSERT and one commit per event, into `events` only (up to
    `--per-event-events` or 15 s);
and ours and multi-row INSERT with 2 and 3 instances (processes) writing at once, each its
own share of the events: events/s is all rows over the time from the common start to the
last instance's end.

The server is the one `--store URL` names (its role must be able to create schemas), or a
throwaway one started from the machine's PostgreSQL programs and stopped after.

    python -m pipeline.benchmark.store_postgres [--store URL] [--events 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pipeline.benchmark.decoded import BATCH, decoded_batches
from pipeline.model import Event
from pipeline.store.admission import decide
from pipeline.store.pg_store import PostgresStore
from pipeline.store.positions import PositionBook
from pipeline.store.rows import field_values, plan_rows

TOPIC_ID = "bench-topic-id"


def schema_url(url: str, schema: str) -> str:
    option = f"options=-csearch_path%3D{schema}"
    return f"{url}{'&' if '?' in url else '?'}{option}"


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield schema_url(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def share(count: int, instance: int, instances: int) -> Iterator[list[Event]]:
    """Instance `instance`'s batches of one stream of `count` events (every n-th batch)."""
    for number, batch in enumerate(decoded_batches(count, BATCH)):
        if number % instances == instance:
            yield [replace(event, topic_id=TOPIC_ID) for event in batch]


class RowInserts:
    """How sinks usually write: one INSERT of the batch's rows (multi-row VALUES) and one
    commit per batch, into `events` only; with batches of one, the textbook consumer."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)
        schema = next(decoded_batches(1, 1))[0].schema
        decision = decide(schema.definition, {}, first=True, typed=True)
        self.plan = plan_rows(schema.schema_id, schema.version, decision.placements, typed=True)
        self.now = dt.datetime.now(dt.UTC)

    def write(self, events: Sequence[Event]) -> None:
        plan = self.plan
        rows = [
            [
                *field_values(plan, e.value),
                e.topic,
                e.topic_id,
                e.partition,
                e.offset,
                "",
                1,
                1,
                self.now,
            ]
            for e in events
        ]
        one = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(rows[0])))
        statement = sql.SQL("INSERT INTO events ({}) VALUES {} ON CONFLICT DO NOTHING").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in plan.columns),
            sql.SQL(", ").join(one for _ in rows),
        )
        self.conn.execute(statement, [value for row in rows for value in row])
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _instance(
    kind: str, url: str, count: int, instance: int, instances: int, start: Any, results: Any
) -> None:
    """One writer process: its share of the batches, timed from the common start."""
    batches = list(share(count, instance, instances))
    if kind == "ours":
        store, book = PostgresStore.open(url), PositionBook()
        write: Callable[[list[Event]], object] = lambda batch: store.write(batch, book)  # noqa: E731
        close = store.close
    else:
        sink = RowInserts(url)
        write, close = sink.write, sink.close
    start.wait()
    began = time.perf_counter()
    for batch in batches:
        write(batch)
    results.put((began, time.perf_counter(), sum(len(b) for b in batches)))
    close()


def prepared(url: str) -> None:
    """The tables and the v1 columns, made before anything is timed."""
    with PostgresStore.open(url) as store:
        (first,) = next(decoded_batches(1, 1))
        store.write([first])
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE events, orders, positions")


def concurrent_rate(kind: str, url: str, count: int, instances: int) -> float:
    """Events/s of `instances` processes writing `count` events into one fresh schema."""
    context = mp.get_context("spawn")
    with fresh_schema(url) as target:
        prepared(target)
        start, results = context.Barrier(instances + 1), context.Queue()
        procs = [
            context.Process(
                target=_instance, args=(kind, target, count, i, instances, start, results)
            )
            for i in range(instances)
        ]
        for proc in procs:
            proc.start()
        start.wait(timeout=300)
        ends = [results.get(timeout=1800) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
    began = min(b for b, _, _ in ends)
    return sum(n for _, _, n in ends) / (max(e for _, e, _ in ends) - began)


def textbook_rate(url: str, events: int, limit_s: float) -> float:
    """One INSERT and one commit per event, stopped after `events` or `limit_s`."""
    with fresh_schema(url) as target:
        prepared(target)
        sink, done, began = RowInserts(target), 0, time.perf_counter()
        try:
            for batch in share(events, 0, 1):
                for event in batch:
                    sink.write([event])
                    done += 1
                if time.perf_counter() - began > limit_s:
                    break
        finally:
            sink.close()
        return done / (time.perf_counter() - began)


@contextmanager
def server(url: str | None) -> Iterator[str]:
    """The server named, or a throwaway one for the run (stopped after)."""
    if url:
        yield url
        return
    from pipeline.devstack.testing import running_test_postgres

    with tempfile.TemporaryDirectory() as folder, running_test_postgres(Path(folder)) as started:
        yield started


def run(url: str | None, events: int, runs: int, per_event: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with server(url) as target:
        print(
            f"PostgreSQL audit store, {events:,} events in batches of {BATCH}, "
            f"median of {runs} runs:",
            flush=True,
        )
        for instances in (1, 2, 3):
            for kind, label in (("ours", "ours (COPY + upserts)"), ("rows", "multi-row INSERT")):
                rates = [concurrent_rate(kind, target, events, instances) for _ in range(runs)]
                results[f"{kind}_{instances}"] = statistics.median(rates)
                print(
                    f"  {label:<24} {instances} instance(s): "
                    f"{results[f'{kind}_{instances}']:>9,.0f} events/s  "
                    f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})",
                    flush=True,
                )
        results["textbook"] = textbook_rate(target, per_event, 15.0)
        print(
            f"  textbook (one INSERT and one commit per event): "
            f"{results['textbook']:>9,.0f} events/s",
            flush=True,
        )
    ours = results["ours_1"]
    print(
        f"ours vs textbook: {ours / results['textbook']:,.1f}x; vs multi-row INSERT: "
        f"{ours / results['rows_1']:,.2f}x (1 instance), "
        f"{results['ours_3'] / results['rows_3']:,.2f}x (3 instances)",
        flush=True,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", help="a PostgreSQL URL [a throwaway server for the run]")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-event-events", type=int, default=5_000)
    args = parser.parse_args()
    run(args.store, args.events, args.runs, args.per_event_events)


if __name__ == "__main__":
    main()
