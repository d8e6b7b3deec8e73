"""The demo's story: v1 registered and produced, three services at work, v2 alongside v1,
the store growing columns, a breaking schema refused, bad messages isolated, a summary.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.dead_letters import list_letters
from pipeline.demo.background import ServicesInBackground
from pipeline.kafka import clients
from pipeline.producer import ProduceOptions, ProduceSummary, produce
from pipeline.schema_files import (
    ORDER_EVENT_BREAKING,
    ORDER_EVENT_V1,
    ORDER_EVENT_V2,
    load_schema_file,
)
from pipeline.schema_lab import subjects
from pipeline.services.alerts_reader import read_alerts
from pipeline.services.stats_reader import read_picture
from pipeline.services.windows import Windowing
from pipeline.store import reports
from pipeline.store.readonly import open_read_only, run_query

V1, V2, BREAKING = ORDER_EVENT_V1, ORDER_EVENT_V2, ORDER_EVENT_BREAKING
# What a careless client might send: not Avro, an unknown schema id, truncated Avro.
POISON = (b'{"order_id": "oops"}', b"\x00\x7f\xff\xff\xf0\x02ab", b"\x00\x00\x00\x00\x01\x48")

# The generator's simulated clock moves 1-39 ms per event, a hundred times the wall clock at
# the demo's rate. The v1 phase is stamped over minutes that ended two windows ago, from the
# start of a window; the v1 + v2 phase on the wall clock (two producers on simulated clocks
# would drift apart by more than the grace period, making each other's events late). So
# analytics closes the v1 phase's windows on event time during the demo, and `stats` and the
# dashboard have windows to show. A run started within minutes of the last one lands in
# windows already closed: analytics counts those events as late, never drops them.
MEAN_STEP_MS = 20


def history_start(started_ms: int, events: int, windowing: Windowing) -> int:
    """When the v1 phase's `events` start, in event time (ms): early enough that, at the
    mean step, they end two windows before `started_ms`."""
    return windowing.start_of(started_ms - events * MEAN_STEP_MS - 2 * windowing.size_ms)


Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    events: int = 20_000  # in each of the two producing phases
    rate: float | None = 5_000.0  # events/s per producer; None: as fast as possible
    anomaly_rate: float = 0.002  # duplicates and swapped steps, for the processor's alerts


@dataclass
class DemoReport:
    produced: int = 0
    columns_before: list[str] = field(default_factory=list)
    columns_after: list[str] = field(default_factory=list)
    refused_reason: str = ""
    analytics: dict[str, Any] = field(default_factory=dict)
    processor: str = ""
    processor_restores: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)  # by kind, read committed
    alert_ids_distinct: bool = True
    storage: str = ""
    dead_letters: int = 0  # this run's, not the topic's total across runs
    dead_messages: int = 0  # the distinct messages they copy
    dead_services: int = 0  # the services that dead-lettered them
    windows_closed: int = 0  # merged windows on the stats topic (every run's), read committed
    timeline: reports.Table | None = None


def run_story(settings: Settings, options: DemoOptions, say: Say, progress: Progress) -> DemoReport:
    report = DemoReport()
    started_ms = int(time.time() * 1000)
    phase_1 = history_start(started_ms, options.events, Windowing())
    subject = registry_client.value_subject(settings.topic)
    _register(settings, subject, V1, say)
    log = settings.state_dir / "demo-order-processor.log"
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with ServicesInBackground(settings, log) as services:
        say("The order processor, analytics and storage services are running, each its own group.")
        report.produced += _produce(settings, [V1], options, progress, "v1", phase_1)
        services.wait_for(report.produced)
        report.columns_before = _columns(settings.db_path)
        services.processor.kill()
        say(
            "The order processor was killed (SIGKILL), orders in flight; v2 comes while it is down."
        )
        _register(settings, subject, V2, say)
        report.produced += _produce(settings, [V1, V2], options, progress, "v1 + v2", None)
        services.processor.start()
        say(
            "The order processor started again: its state comes back from its folder and changelog."
        )
        services.wait_for(report.produced)
        report.columns_after = _columns(settings.db_path)
        report.refused_reason = _try_breaking(settings, subject, say)
        report.produced += _send_poison(settings)
        say(f"A careless client sent {len(POISON)} messages that are not valid order events.")
        services.wait_for(report.produced)
    report.analytics = services.analytics.picture().to_dict()
    report.windows_closed = len(read_picture(settings).windows)
    report.processor = str(services.final_processor.get("detail", ""))
    report.processor_restores = services.final_processor.get("state", {}).get("restores", {})
    report.alerts, report.alert_ids_distinct = _alerts(settings)
    report.storage = services.storage.summary_line()
    _count_dead_letters(settings, report, started_ms)
    report.timeline = _sample_timeline(settings.db_path)
    return report


def _alerts(settings: Settings) -> tuple[dict[str, int], bool]:
    """The alerts on the alerts topic (read committed) by kind, and whether each is once."""
    records = read_alerts(settings)
    kinds = Counter(str(r["kind"]) for r in records)
    ids = [(str(r["alert_id"]), r["partition"], r["offset"]) for r in records]
    return dict(kinds), len(ids) == len(set(ids))


def _count_dead_letters(settings: Settings, report: DemoReport, since_ms: int) -> None:
    listing = list_letters(settings, settings.dlq_topic)
    mine = [letter for letter in listing.matched if letter.timestamp_ms >= since_ms]
    report.dead_letters = len(mine)
    sources = {
        (x.header("dlq.topic"), x.header("dlq.partition"), x.header("dlq.offset")) for x in mine
    }
    report.dead_messages = len(sources)
    report.dead_services = len({letter.service for letter in mine})


def _register(settings: Settings, subject: str, path: Path, say: Say) -> None:
    with registry_client.connected(settings) as client:
        found = subjects.register(client, subject, load_schema_file(path))
    done = "was already registered" if found.already else "registered"
    say(f"{path.name} {done} in {subject}: id {found.schema_id}, version {found.version}.")


def _produce(
    settings: Settings,
    schemas: list[Path],
    options: DemoOptions,
    progress: Progress,
    label: str,
    start_ms: int | None,
) -> int:
    """One producer per schema, at once, their events stamped from `start_ms` on (None: the
    wall clock); returns the events delivered."""
    count = options.events // len(schemas)
    results: list[ProduceSummary] = []
    done: dict[Path, int] = dict.fromkeys(schemas, 0)

    def one(path: Path) -> None:
        produce_options = ProduceOptions(
            count=count,
            rate=options.rate,
            schema_path=path,
            anomaly_rate=options.anomaly_rate,
            start_ms=start_ms,
        )

        def tick(summary: ProduceSummary) -> None:
            done[path] = summary.produced
            progress(f"producing {label}", sum(done.values()), count * len(schemas))

        results.append(produce(settings, produce_options, tick))

    threads = [threading.Thread(target=one, args=(path,)) for path in schemas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress(f"producing {label}", sum(r.delivered for r in results), count * len(schemas))
    return sum(r.delivered for r in results)


def _try_breaking(settings: Settings, subject: str, say: Say) -> str:
    """Register the breaking schema: the registry must refuse it, and says why."""
    try:
        _register(settings, subject, BREAKING, say)
    except subjects.SchemaRefused as exc:
        say(f"{BREAKING.name} {exc}")
        return str(exc)
    return ""


def _send_poison(settings: Settings) -> int:
    producer = clients.producer(settings.kafka_config(acks="all"))
    for number, value in enumerate(POISON):
        producer.produce(settings.topic, value, key=f"poison-{number}")
    remaining = producer.flush(30)
    return len(POISON) - remaining


def _columns(db_path: Path) -> list[str]:
    db = open_read_only(db_path)
    try:
        return reports.event_columns(db)
    finally:
        db.conn.close()


def _sample_timeline(db_path: Path) -> reports.Table | None:
    """The timeline of a delivered order written with v2: old and new fields side by side."""
    db = open_read_only(db_path)
    try:
        _, rows = run_query(
            db,
            "SELECT order_id FROM events WHERE schema_version = 2 "
            "GROUP BY order_id HAVING count(*) = 4 LIMIT 1",
        )
        return reports.order_timeline(db, rows[0][0]) if rows else None
    finally:
        db.conn.close()
