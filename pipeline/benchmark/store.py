"""`bench store`: how fast the audit store takes events, and the memory it holds meanwhile.

In one run, on a fresh SQLite file each time:
  * the store as the service uses it: batches of decoded v1 events (the runner's batch size),
    one transaction per batch, prepared INSERT OR IGNORE through `executemany`;
  * the same store writing each run of rows with sqlite-utils' `insert_all` instead;
  * one INSERT and one commit per event: on the store's own settings (WAL,
    synchronous=NORMAL), and the textbook baseline's table (`textbook.TextbookTable`:
    a default connection, rollback journal, synchronous=FULL);
  * with `--e2e`, the storage service through the real runner, broker and registry
    (`store_e2e.py`).
Only the writes are timed (not generating events). Resident memory (psutil) is sampled
every 20 batches. Prints medians of `--runs` runs.

    python -m pipeline.benchmark.store [--events 1000000] [--runs 3] [--e2e]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from pipeline.benchmark.commandline import Out, add_target_arguments, run_main, say, target_of
from pipeline.benchmark.decoded import BATCH, decoded_batches
from pipeline.benchmark.store_e2e import run_store_e2e
from pipeline.benchmark.textbook import TextbookTable
from pipeline.model import Event, Refusal
from pipeline.store import AuditStore, open_read_only
from pipeline.store.admission import META_COLUMNS
from pipeline.store.rows import RowPlan

SAMPLE_EVERY = 20  # batches between memory samples
MiB = 2**20


@dataclass(frozen=True, kw_only=True)
class StoreBenchOptions:
    events: int = 1_000_000
    runs: int = 3
    compare_events: int = 200_000
    per_event_events: int = 5_000  # the one-commit-per-event runs, each stopped after...
    per_event_limit_s: float = 15.0  # ...this many seconds of writing


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
            run = timed(store.write, decoded_batches(events, batch))
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


def one_at_a_time(write: Callable[[Event], object], events: int, limit_s: float) -> Run:
    """One event per write (one transaction each), stopped after `events` or `limit_s`."""
    run = Run()
    for (one,) in decoded_batches(events, 1):
        began = time.perf_counter()
        write(one)
        run.seconds += time.perf_counter() - began
        run.events += 1
        if run.seconds > limit_s:
            break
    return run


def per_event_wal_run(events: int, limit_s: float) -> Run:
    with tempfile.TemporaryDirectory() as folder, AuditStore.open(Path(folder) / "a.db") as store:
        return one_at_a_time(lambda event: store.write([event]), events, limit_s)


def textbook_run(events: int, limit_s: float) -> Run:
    with (
        tempfile.TemporaryDirectory() as folder,
        closing(TextbookTable.open(Path(folder) / "t.db")) as table,
    ):
        return one_at_a_time(lambda event: table.store(event.value), events, limit_s)


def median_rate(runs: list[Run]) -> float:
    return statistics.median(run.rate for run in runs)


def run_store_bench(options: StoreBenchOptions, out: Out = say) -> dict[str, Any]:
    """Every figure of the store, printed through `out` as it comes, and returned."""
    n, runs = options.events, options.runs
    out(f"audit store, {n:,} events in batches of {BATCH}, {runs} runs:")
    full = [store_run(n) for _ in range(runs)]
    rate = median_rate(full)
    listed = ", ".join(f"{r.rate:,.0f}" for r in full)
    out(f"  store (executemany):  {rate:>10,.0f} events/s (median; runs: {listed})")
    worst = max(full, key=lambda r: r.rss_peak)
    out(
        f"  memory (RSS): {worst.rss_warm:.0f} MiB after 10k events, peak {worst.rss_peak:.0f}"
        f" MiB, {worst.rss_end:.0f} MiB at the end (worst run)"
    )
    timeline = statistics.median(r.timeline_ms for r in full)
    out(f"  one order's timeline read back from {n:,} events: {timeline:.0f} ms")

    compare = options.compare_events
    out(f"same store, {compare:,} events each, {runs} runs:")
    short = median_rate([store_run(compare) for _ in range(runs)])
    big = median_rate([store_run(compare, batch=2000) for _ in range(runs)])
    via = median_rate([store_run(compare, InsertAllStore) for _ in range(runs)])
    out(f"  executemany, batches of {BATCH}:       {short:>10,.0f} events/s")
    out(f"  executemany, batches of 2000:      {big:>10,.0f} events/s")
    out(
        f"  sqlite-utils insert_all, {BATCH}:      {via:>10,.0f} events/s "
        f"(executemany is {short / via:.2f}x)"
    )
    each, limit = options.per_event_events, options.per_event_limit_s
    out(f"baselines, one INSERT and one commit per event (up to {each:,} events or {limit:g} s):")
    wal, book = per_event_wal_run(each, limit), textbook_run(each, limit)
    out(f"  WAL + synchronous=NORMAL:        {wal.rate:>9,.0f} events/s")
    out(f"  textbook (journal, sync=FULL):   {book.rate:>9,.0f} events/s")
    out(
        f"store vs textbook baseline: {rate / book.rate:,.0f}x; "
        f"vs per-event commits under WAL: {rate / wal.rate:,.1f}x"
    )
    return {
        "store_events_per_s": round(rate),
        "all_runs": [round(r.rate) for r in full],
        "rss_mb": {"warm": worst.rss_warm, "peak": worst.rss_peak, "end": worst.rss_end},
        "timeline_ms": timeline,
        "executemany_500_events_per_s": round(short),
        "executemany_2000_events_per_s": round(big),
        "insert_all_500_events_per_s": round(via),
        "per_event_wal_events_per_s": round(wal.rate),
        "textbook_events_per_s": round(book.rate),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.store", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare-events", type=int, default=200_000)
    parser.add_argument("--per-event-events", type=int, default=5_000)
    parser.add_argument("--e2e", action="store_true", help="also through runner and broker")
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    options = StoreBenchOptions(
        events=args.events,
        runs=args.runs,
        compare_events=args.compare_events,
        per_event_events=args.per_event_events,
    )

    def body() -> None:
        run_store_bench(options)
        if args.e2e:
            run_store_e2e(target_of(args), args.events)

    return run_main(body)


if __name__ == "__main__":
    raise SystemExit(main())
