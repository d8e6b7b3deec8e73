"""The consumer side of a measurement, run as its own process (as a service runs for real).

    python -m pipeline.benchmark.worker '<json config>'

`ours` runs the storage service through the shared runner; `baseline` runs the textbook
loop. Either prints `READY` once it has its partitions, then, when `expect` events are
stored (or it stops idle), `RESULT <json>`: rows in SQLite, when the last row was stored
(wall clock, comparable with the producer's in the parent), its memory, and, if asked,
the latency of every event after the first `warmup` (the first fetch, the store's
creation, the schema's first lookup): the time its row was committed minus its Kafka
timestamp, which the producer's client stamps when `produce()` is called.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from types import MappingProxyType
from typing import Any

import psutil
from confluent_kafka import Message

from pipeline.benchmark.stats import latency_summary
from pipeline.benchmark.textbook import count_rows, textbook_consume
from pipeline.config import Settings
from pipeline.model import Event, Refusal
from pipeline.services.base import Service
from pipeline.services.runner import Runner, RunOptions, make_service
from pipeline.services.summary import RunSummary

MiB = 2**20


class Clock:
    """What the worker measures: stored count, first/last stored time, latencies, memory."""

    def __init__(self, expect: int, latency: bool, warmup: int = 0) -> None:
        self.expect = expect
        self.warmup = warmup
        self.stored = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.latencies: array[float] | None = array("d") if latency else None
        self.rss_ready_mb = 0.0
        self.rss_end_mb = 0.0
        self.ready = threading.Event()

    def mark_ready(self) -> None:
        if not self.ready.is_set():
            self.rss_ready_mb = _rss_mb()
            self.ready.set()
            print("READY", flush=True)

    def stored_now(self, timestamps_ms: Sequence[int]) -> None:
        now = time.time()
        self.first_at = self.first_at or now
        self.last_at = now
        skip = max(0, self.warmup - self.stored)
        self.stored += len(timestamps_ms)
        if self.latencies is not None:
            now_ms = now * 1000
            self.latencies.extend(now_ms - ts for ts in timestamps_ms[skip:])
        if self.stored >= self.expect:
            self.rss_end_mb = _rss_mb()


class Stopwatch:
    """Our storage service, its batches timed as they return (rows committed)."""

    def __init__(self, inner: Service, clock: Clock) -> None:
        self.name = inner.name
        self._inner = inner
        self._clock = clock

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        refusals = self._inner.handle(batch)
        self._clock.stored_now([event.timestamp_ms for event in batch])
        return refusals

    def close(self) -> None:
        self._inner.close()


def run_ours(settings: Settings, config: dict[str, Any], clock: Clock) -> int:
    service = Stopwatch(make_service("storage", settings), clock)

    def tick(summary: RunSummary) -> None:
        if summary.assignments:
            clock.mark_ready()

    options = RunOptions(
        group_id=config["group"],
        max_events=config["expect"],
        idle_timeout_s=config["idle_timeout_s"],
    )
    Runner(settings, service, options, on_tick=tick).run()
    with closing(sqlite3.connect(str(settings.db_path))) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def run_baseline(settings: Settings, config: dict[str, Any], clock: Clock) -> int:
    def stored(message: Message) -> None:
        clock.stored_now([message.timestamp()[1]])

    textbook_consume(
        settings,
        config["group"],
        config["schema_str"],
        config["expect"],
        on_ready=clock.mark_ready,
        on_stored=stored,
        stop=threading.Event(),
        idle_timeout_s=config["idle_timeout_s"],
    )
    return count_rows(settings.db_path)


def settings_config(settings: Settings) -> dict[str, Any]:
    """What a child process needs to rebuild `settings` (`settings_from` reads it back)."""
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        "registry_url": settings.registry_url,
        "registry_auth": settings.registry_auth,
        "client_properties": dict(settings.client_properties),
        "topic": settings.topic,
        "dlq_topic": settings.dlq_topic,
        "db_path": str(settings.db_path),
    }


def settings_from(config: dict[str, Any]) -> Settings:
    return Settings(
        bootstrap_servers=config["bootstrap_servers"],
        registry_url=config["registry_url"],
        registry_auth=config.get("registry_auth"),
        topic=config["topic"],
        dlq_topic=config["dlq_topic"],
        db_path=Path(config["db_path"]),
        client_properties=MappingProxyType(dict(config.get("client_properties", {}))),
    )


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    clock = Clock(config["expect"], config["latency"], config.get("warmup", 0))
    run = run_ours if config["side"] == "ours" else run_baseline
    rows = run(settings_from(config), config, clock)
    result = {
        "rows": rows,
        "stored": clock.stored,
        "first_stored_at": clock.first_at,
        "last_stored_at": clock.last_at,
        "rss_ready_mb": round(clock.rss_ready_mb, 1),
        "rss_end_mb": round(clock.rss_end_mb or _rss_mb(), 1),
        "latency_ms": latency_summary(clock.latencies) if clock.latencies else None,
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss / MiB)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
