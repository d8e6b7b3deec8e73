"""The four measurements, each on a lane of its own (fresh topic, group and SQLite file).

Producers run in this process; the consumer side runs as a worker process, started and
given its partitions before the first event is sent, so the clock never counts a
consumer's start-up. Every run checks that each event was delivered and stored once.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from pipeline import registry_client
from pipeline.benchmark.stack import BenchError, Lane, Workspace
from pipeline.benchmark.textbook import Produced, textbook_produce
from pipeline.benchmark.workers import WorkerProcess, worker_config
from pipeline.events import generate_events
from pipeline.producer import ProduceOptions, send_events
from pipeline.serde import AvroEncoder

OURS, BASELINE = "ours", "baseline"
ORDERS_IN_FLIGHT = 1000
# The slowest a side may drain before a run is declared stalled (events/s), plus slack.
SLOWEST_RATE = {OURS: 1_000.0, BASELINE: 20.0}
SLACK_S = 120.0
# Latency leaves out the first second at the fixed rate (at most half the run): the
# consumer's first fetch, the store's creation and the schema's first lookup happen there.
WARMUP_S = 1.0


def produce(side: str, lane: Lane, events: int, rate: float | None, seed: int) -> Produced:
    """Send `events` generated events with one side's producer; all must be delivered."""
    stream = islice(generate_events(seed=seed, orders=ORDERS_IN_FLIGHT), events)
    if side == BASELINE:
        produced = textbook_produce(lane.settings, lane.schema_str, stream, rate)
    else:
        with registry_client.connected(lane.settings) as client:
            subject = registry_client.value_subject(lane.settings.topic)
            encoder = AvroEncoder.for_subject(client, subject, lane.schema_str)
        started = time.time()
        options = ProduceOptions(count=events, rate=rate)
        summary = send_events(lane.settings, encoder, stream, options)
        if summary.interrupted:
            raise KeyboardInterrupt
        produced = Produced(summary.delivered, summary.failed, started, summary.elapsed_s)
    if produced.delivered != events:
        raise BenchError(
            f"the {side} producer delivered {produced.delivered} of {events} events "
            f"({produced.failed} failed)"
        )
    return produced


def producer_rate(ws: Workspace, side: str, events: int, seed: int) -> float:
    """Events/s delivered (acks=all), from the first event to the last delivery report."""
    return produce(side, ws.lane(f"prod-{side}"), events, None, seed).rate


def e2e_rate(ws: Workspace, side: str, events: int, seed: int) -> float:
    """Events/s from the first event produced until the last row is committed in SQLite."""
    produced, result = _through(ws, side, f"e2e-{side}", events, None, seed)
    return events / (result["last_stored_at"] - produced.started_at)


def latency_run(ws: Workspace, side: str, events: int, rate: float, seed: int) -> dict[str, Any]:
    """Per-event latency (ms) with the producer held at `rate`, and the rate achieved."""
    warmup = min(int(rate * WARMUP_S), events // 2)
    produced, result = _through(ws, side, f"lat-{side}", events, rate, seed, warmup=warmup)
    summary: dict[str, Any] = dict(result["latency_ms"])
    elapsed = result["last_stored_at"] - produced.started_at
    summary["stored_events_per_s"] = round(events / elapsed, 1)
    summary["warmup_events"] = warmup
    return summary


def memory_run(ws: Workspace, events: int, seed: int) -> dict[str, Any]:
    """Our storage service's resident memory over a long run (MiB), sampled every second."""
    lane = ws.lane("long-ours")
    with WorkerProcess(worker_config(lane, OURS, events, latency=False), 0.5) as worker:
        worker.wait_ready()
        produced = produce(OURS, lane, events, None, seed)
        result = worker.result(_drain_timeout(OURS, events))
        samples = worker.samples_since_ready()
        ended = round(worker.since_ready(), 2)
    _check_stored(OURS, result, events)
    # The worker's own readings at ready and after its last batch frame the sampled series.
    samples = [(0.0, result["rss_ready_mb"]), *samples, (ended, result["rss_end_mb"])]
    peak = max([mb for _, mb in samples] + [result["rss_end_mb"]])
    return {
        "events": events,
        "start_mb": result["rss_ready_mb"],
        "peak_mb": peak,
        "end_mb": result["rss_end_mb"],
        "events_per_s": round(events / (result["last_stored_at"] - produced.started_at)),
        "samples": samples,
    }


def _through(
    ws: Workspace,
    side: str,
    label: str,
    events: int,
    rate: float | None,
    seed: int,
    warmup: int | None = None,  # None: no latency recorded
) -> tuple[Produced, dict[str, Any]]:
    lane = ws.lane(label)
    config = worker_config(lane, side, events, warmup is not None, warmup or 0)
    with WorkerProcess(config) as worker:
        worker.wait_ready()
        produced = produce(side, lane, events, rate, seed)
        result = worker.result(_drain_timeout(side, events))
    _check_stored(side, result, events)
    return produced, result


def _drain_timeout(side: str, events: int) -> float:
    return SLACK_S + events / SLOWEST_RATE[side]


def _check_stored(side: str, result: dict[str, Any], events: int) -> None:
    if result["rows"] != events or result["stored"] != events:
        raise BenchError(
            f"the {side} consumer stored {result['rows']} rows for {events} events "
            f"(handled {result['stored']})"
        )
