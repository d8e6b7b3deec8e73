"""One side of a before/after measurement, run as a script against whichever tree is on
PYTHONPATH (`before_after.py` starts it; it is never imported).

    PYTHONPATH=<tree> python -P pipeline/benchmark/probe.py ROLE '<json config>'

The same harness drives the release before and this one: it calls only what both trees
have (`produce`, `AvroEncoder`, `generate_events`, the runner and the storage service), so
a difference in the figures is a difference in the code measured. It prints `TREE <path>`
first (the parent checks that the tree it meant is the one imported: `-P` keeps this
file's folder off `sys.path`), `READY` once a consumer has its partitions, and
`RESULT <json>` at the end.

produce  the tree's `produce()` (the `produce` command's own path), all out or at a rate
raw      the Kafka client alone on pre-encoded values: the same producer settings, one
         counting callback (the client limit the producer is compared with)
store    the tree's storage service through its runner, timed as its batches commit
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import threading
import time
from array import array
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

import psutil

import pipeline

# The tree on the path's own reading of the config (both trees have it, the same).
from pipeline.benchmark.worker import settings_from
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.kafka import clients
from pipeline.producer import PRODUCER_CONFIG, ProduceOptions, produce
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService

MiB = 2**20
ORDERS_IN_FLIGHT = 1000
POLL_EVERY = 1000  # the raw loop serves delivery reports this often


def run_produce(settings: Settings, config: dict[str, Any]) -> dict[str, Any]:
    options = ProduceOptions(
        count=config["events"], rate=config.get("rate"), seed=config["seed"], orders=1000
    )
    cpu, started = time.process_time(), time.time()
    summary = produce(settings, options)
    return {
        "delivered": summary.delivered,
        "failed": summary.failed,
        "started_at": started,
        "elapsed_s": summary.elapsed_s,
        "events_per_s": summary.rate,
        "cpu_s": time.process_time() - cpu,
    }


def run_raw(settings: Settings, config: dict[str, Any]) -> dict[str, Any]:
    """Pre-encoded values (this tree's encoder; the bytes are the same in every tree), then
    the client alone, timed from the first produce() to the last delivery report."""
    from pipeline import registry_client
    from pipeline.serde import AvroEncoder

    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(settings.topic)
        encoder = AvroEncoder.for_subject(client, subject, config["schema_str"])
    events = islice(generate_events(seed=config["seed"], orders=ORDERS_IN_FLIGHT), config["events"])
    messages = [(encoder.encode(e), e["order_id"].encode()) for e in events]
    delivered = [0]

    def count(error: Any, _message: Any) -> None:
        if error is None:
            delivered[0] += 1

    producer = clients.producer(settings.kafka_config(**PRODUCER_CONFIG))
    topic, send, poll = settings.topic, producer.produce, producer.poll
    cpu, started = time.process_time(), time.time()
    for index, (value, key) in enumerate(messages):
        while True:
            try:
                send(topic, value, key, on_delivery=count)
                break
            except BufferError:
                poll(0.05)
        if index % POLL_EVERY == 0:
            poll(0)
    producer.flush(120)
    elapsed = time.time() - started
    return {
        "delivered": delivered[0],
        "failed": len(messages) - delivered[0],
        "started_at": started,
        "elapsed_s": elapsed,
        "events_per_s": delivered[0] / elapsed,
        "cpu_s": time.process_time() - cpu,
    }


class Clock:
    """When batches were stored, their events' latencies, and the memory at the ends."""

    def __init__(self, expect: int, latency: bool, warmup: int) -> None:
        self.expect, self.warmup, self.stored = expect, warmup, 0
        self.first_at = self.last_at = 0.0
        self.latencies: array[float] | None = array("d") if latency else None
        self.rss_ready_mb = self.rss_end_mb = 0.0
        self.cpu_at_first = self.cpu_at_last = 0.0
        self.ready = threading.Event()

    def mark_ready(self) -> None:
        if not self.ready.is_set():
            self.rss_ready_mb = rss_mb()
            self.ready.set()
            print("READY", flush=True)

    def batch_started(self) -> None:
        if not self.first_at:
            self.first_at = time.time()
            self.cpu_at_first = time.process_time()

    def stored_now(self, timestamps_ms: list[int]) -> None:
        now = time.time()
        self.last_at = now
        self.cpu_at_last = time.process_time()
        skip = max(0, self.warmup - self.stored)
        self.stored += len(timestamps_ms)
        if self.latencies is not None:
            now_ms = now * 1000
            self.latencies.extend(now_ms - ts for ts in timestamps_ms[skip:])
        if self.stored >= self.expect:
            self.rss_end_mb = rss_mb()


def timed_storage(settings: Settings, clock: Clock) -> StorageService:
    """The tree's storage service, unchanged but for the clock around `handle` (a subclass,
    so the runner sees every interface the service has: positions, commits)."""

    class TimedStorage(StorageService):
        def handle(self, batch: Any) -> Any:
            clock.batch_started()
            refusals = super().handle(batch)
            clock.stored_now([event.timestamp_ms for event in batch])
            return refusals

    return TimedStorage(settings)


def run_store(settings: Settings, config: dict[str, Any]) -> dict[str, Any]:
    clock = Clock(config["expect"], config["latency"], config.get("warmup", 0))

    def tick(summary: Any) -> None:
        if summary.assignments:
            clock.mark_ready()

    options = RunOptions(group_id=config["group"], max_events=config["expect"], idle_timeout_s=60.0)
    Runner(settings, timed_storage(settings, clock), options, on_tick=tick).run()
    with closing(sqlite3.connect(str(settings.db_path))) as conn:
        rows = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    return {
        "rows": rows,
        "stored": clock.stored,
        "first_stored_at": clock.first_at,
        "last_stored_at": clock.last_at,
        "events_per_s": clock.stored / (clock.last_at - clock.first_at)
        if clock.last_at > clock.first_at
        else 0.0,
        # The CPU of the span the rate is measured over, first batch to last: not the
        # service's shutdown, nor this probe's own count of the rows.
        "cpu_s": clock.cpu_at_last - clock.cpu_at_first,
        "rss_ready_mb": round(clock.rss_ready_mb, 1),
        "rss_end_mb": round(clock.rss_end_mb or rss_mb(), 1),
        "latency_ms": percentiles(clock.latencies) if clock.latencies else None,
    }


def percentiles(samples: Any) -> dict[str, float]:
    """Nearest-rank p50/p90/p99/p99.9 and the maximum, in ms (kept here: the harness
    imports nothing of its own from the tree it measures)."""
    ordered = sorted(samples)
    marks = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}
    summary = {
        name: round(ordered[max(1, math.ceil(round(q * len(ordered), 9))) - 1], 2)
        for name, q in marks.items()
    }
    return {**summary, "max": round(ordered[-1], 2), "count": len(ordered)}


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss / MiB)


ROLES = {"produce": run_produce, "raw": run_raw, "store": run_store}


def main(argv: list[str]) -> int:
    role, config = argv[0], json.loads(argv[1])
    print(f"TREE {Path(pipeline.__file__).resolve().parent.parent}", flush=True)
    if role == "tree":  # only where `pipeline` came from (the harness's own test)
        print("RESULT " + json.dumps({"producer": str(Path(produce.__code__.co_filename))}))
        return 0
    result = ROLES[role](settings_from(config), config)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
