"""How fast the audit store takes events, and how much memory it holds over 1,000,000.

In one run, on a fresh SQLite file each time:
  * the store as the service uses it: batches of decoded v1 events (the runner's batch size),
    one transaction per batch, prepared INSERT OR IGNORE through `executemany`;
  * the same store writing each run of rows with sqlite-utils' `insert_all` instead;
  * baselines, one INSERT and one commit per event: on the store's own settings (WAL,
    synchronous=NORMAL), and the textbook way (rollback journal, synchronous=FULL);
  * with `--e2e`, the storage service through the real runner, broker and registry
    (see bench/storage_e2e.py).
Only the store's calls are timed (not generating events). Resident memory (psutil) is
sampled every 20 batches. Prints medians of `--runs` runs.

    python bench/storage_bench.py [--events 1000000] [--runs 3] [--e2e]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.events import generate_events
from pipeline.model import Event, Refusal, WriterSchema
from pipeline.schema_files import SCHEMAS_DIR
from pipeline.store import AuditStore, open_read_only
from pipeline.store.admission import META_COLUMNS
from pipeline.store.rows import RowPlan

BATCH = 500  # the runner's default batch size
SAMPLE_EVERY = 20  # batches between memory samples
MiB = 2**20


@dataclass
class Run:
    events: int = 0
    seconds: float = 0.0
    rss_warm: float = 0.0  # MiB, after the first 10,000 events
    rss_peak: float = 0.0
    rss_end: float = 0.0
    timeline_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def v1_writer() -> WriterSchema:
    text = (SCHEMAS_DIR / "order_event.v1.avsc").read_text(encoding="utf-8")
    return WriterSchema(1, "order-events-value", 1, json.loads(text))


def decoded_batches(count: int, size: int, schema: WriterSchema) -> Iterator[list[Event]]:
    """Lifecycle events shaped as the decoder hands them over (UUIDs, aware datetimes)."""
    values = islice(generate_events(seed=7, orders=1000), count)
    offset = 0
    while batch := list(islice(values, size)):
        events = []
        for value in batch:
            decoded = {
                **value,
                "event_id": uuid.UUID(value["event_id"]),
                "order_id": uuid.UUID(value["order_id"]),
                "timestamp": dt.datetime.fromtimestamp(value["timestamp"] / 1000, dt.UTC),
            }
            ms = value["timestamp"]
            events.append(
                Event("order-events", offset % 6, offset, None, b"", (), ms, decoded, schema)
            )
            offset += 1
        yield events


class InsertAllStore(AuditStore):
    """The store writing each run of rows with sqlite-utils' `insert_all` (for comparison)."""

    def _insert_run(
        self, plan: RowPlan, rows: list[tuple[Event, list[Any]]], refusals: list[Refusal]
    ) -> tuple[int, list[list[Any]]]:
        names = [name for name, _ in plan.fields] + list(META_COLUMNS)
        records = [dict(zip(names, row, strict=True)) for _, row in rows]
        self.db.table("events").insert_all(records, ignore=True, batch_size=BATCH)
        return len(rows), [row for _, row in rows]


def timed(write: Callable[[Sequence[Event]], object], batches: Iterator[list[Event]]) -> Run:
    process, run = psutil.Process(), Run()
    for number, batch in enumerate(batches):
        began = time.perf_counter()
        write(batch)
        run.seconds += time.perf_counter() - began
        run.events += len(batch)
        if number % SAMPLE_EVERY == 0 or run.events < 10_000 + len(batch):
            rss = process.memory_info().rss / MiB
            run.rss_peak = max(run.rss_peak, rss)
            if run.events >= 10_000 and not run.rss_warm:
                run.rss_warm = rss
    run.rss_end = process.memory_info().rss / MiB
    return run


def store_run(events: int, store_class: type[AuditStore] = AuditStore, batch: int = BATCH) -> Run:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.db"
        with store_class.open(path) as store:
            run = timed(store.write, decoded_batches(events, batch, v1_writer()))
        run.timeline_ms = timeline_ms(path)
        return run


def timeline_ms(path: Path) -> float:
    """How long one order's timeline takes to read (`query order`: a scan, no index)."""
    db = open_read_only(path)
    try:
        (order_id,) = db.execute("SELECT order_id FROM orders LIMIT 1").fetchone()
        began = time.perf_counter()
        sql = "SELECT status, timestamp, schema_version FROM events WHERE order_id = ?"
        db.execute(sql + " ORDER BY timestamp", [order_id]).fetchall()
        return (time.perf_counter() - began) * 1000
    finally:
        db.close()


def per_event_run(events: int, textbook: bool, limit_s: float = 15.0) -> Run:
    """One transaction per event, stopped after `events` or `limit_s` seconds of writing."""
    with tempfile.TemporaryDirectory() as folder, AuditStore.open(Path(folder) / "a.db") as store:
        if textbook:
            store.db.disable_wal()
            store.db.execute("PRAGMA synchronous=FULL")
        run = Run()
        for (one,) in decoded_batches(events, 1, v1_writer()):
            began = time.perf_counter()
            store.write([one])
            run.seconds += time.perf_counter() - began
            run.events += 1
            if run.seconds > limit_s:
                break
        return run


def median_rate(runs: list[Run]) -> float:
    return statistics.median(run.rate for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare-events", type=int, default=200_000)
    parser.add_argument("--e2e", action="store_true", help="also through runner and broker")
    args = parser.parse_args()

    print(f"audit store, {args.events:,} events in batches of {BATCH}, {args.runs} runs:")
    full = [store_run(args.events) for _ in range(args.runs)]
    rate = median_rate(full)
    print(
        f"  store (executemany):  {rate:>10,.0f} events/s (median; runs: "
        + ", ".join(f"{r.rate:,.0f}" for r in full)
        + ")"
    )
    worst = max(full, key=lambda r: r.rss_peak)
    print(
        f"  memory (RSS): {worst.rss_warm:.0f} MiB after 10k events, peak {worst.rss_peak:.0f}"
        f" MiB, {worst.rss_end:.0f} MiB at the end (worst run)"
    )

    print(
        f"  one order's timeline read back from {args.events:,} events: "
        f"{statistics.median(r.timeline_ms for r in full):.0f} ms"
    )

    print(f"same store, {args.compare_events:,} events each, {args.runs} runs:")
    short = median_rate([store_run(args.compare_events) for _ in range(args.runs)])
    big = median_rate([store_run(args.compare_events, batch=2000) for _ in range(args.runs)])
    via = median_rate([store_run(args.compare_events, InsertAllStore) for _ in range(args.runs)])
    print(f"  executemany, batches of {BATCH}:       {short:>10,.0f} events/s")
    print(f"  executemany, batches of 2000:      {big:>10,.0f} events/s")
    print(
        f"  sqlite-utils insert_all, {BATCH}:      {via:>10,.0f} events/s "
        f"(executemany is {short / via:.2f}x)"
    )
    print("baselines, one INSERT and one commit per event (up to 5,000 events or 15 s):")
    wal = per_event_run(5_000, textbook=False)
    book = per_event_run(5_000, textbook=True)
    print(f"  WAL + synchronous=NORMAL:        {wal.rate:>9,.0f} events/s")
    print(f"  textbook (journal, sync=FULL):   {book.rate:>9,.0f} events/s")
    print(
        f"store vs textbook baseline: {rate / book.rate:,.0f}x; "
        f"vs per-event commits under WAL: {rate / wal.rate:,.1f}x"
    )
    if args.e2e:
        from storage_e2e import run_e2e  # this folder is on sys.path when run as a script

        run_e2e(args.events)


if __name__ == "__main__":
    main()
