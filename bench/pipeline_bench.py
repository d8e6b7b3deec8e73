"""Producer throughput with Avro: the pipeline's encoder against confluent-kafka's stock one.

In one run, on the real broker and registry, each measured `--runs` times (alternating):
  * ours: `pipeline.producer.send_events` with `AvroEncoder` (fastavro, schema parsed once);
  * baseline: the same loop with confluent-kafka's `AvroSerializer` called one event at a
    time (auto-register off, topic-name strategy), as its examples do.
Both generate the events, encode them, hand them to the same idempotent `acks=all`
producer, and wait for every delivery report; the clock covers all of that. Also timed:
encoding alone, without Kafka. Prints medians and writes bench/results/producer.json.

The broker comes from KAFKA_BOOTSTRAP_SERVERS (default localhost:9092, e.g. `python cli.py
dev up`); the registry from SCHEMA_REGISTRY_URL, or else the project's registry is served
in this process on a free port, with a schemas topic of its own.

    python bench/pipeline_bench.py [--events 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka.schema_registry import Schema, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from pipeline import registry_client
from pipeline.benchmark.stack import bench_stack
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.kafka.admin import ensure_topics
from pipeline.producer import ProduceOptions, send_events
from pipeline.schema_files import SCHEMAS_DIR
from pipeline.serde import AvroEncoder

RESULTS = Path(__file__).resolve().parent / "results"
V1 = (SCHEMAS_DIR / "order_event.v1.avsc").read_text()


class StockEncoder:
    """confluent-kafka's AvroSerializer behind the interface `send_events` expects."""

    def __init__(self, settings: Settings, schema_id: int) -> None:
        conf = {
            "auto.register.schemas": False,
            "subject.name.strategy": topic_subject_name_strategy,
        }
        self._serialize = AvroSerializer(registry_client.connect(settings), V1, conf=conf)
        self._ctx = SerializationContext(settings.topic, MessageField.VALUE)
        self.schema_id = schema_id

    def encode(self, record: dict[str, Any]) -> bytes:
        value = self._serialize(record, self._ctx)
        assert value is not None
        return value


def produce_rate(settings: Settings, encoder: Any, events: int, seed: int) -> float:
    stream = islice(generate_events(seed=seed, orders=1000), events)
    summary = send_events(settings, encoder, stream, ProduceOptions(count=events))
    assert summary.delivered == events and summary.failed == 0, summary.describe()
    return summary.rate


def encode_rate(encoder: Any, events: int) -> float:
    batch = list(islice(generate_events(seed=1, orders=1000), events))
    started = time.perf_counter()
    for event in batch:
        encoder.encode(event)
    return events / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Settings.from_env(topic=f"bench-orders-{uuid.uuid4().hex[:8]}")
    own_registry = not os.environ.get("SCHEMA_REGISTRY_URL")
    with bench_stack(base, own_broker=False, own_registry=own_registry) as settings:
        subject = f"{settings.topic}-value"
        schema_id = registry_client.connect(settings).register_schema(subject, Schema(V1, "AVRO"))
        ensure_topics(settings, {settings.topic: settings.partitions})
        ours = AvroEncoder.for_subject(registry_client.connect(settings), subject, V1)
        stock = StockEncoder(settings, schema_id)
        produce_rate(settings, ours, 20_000, seed=0)  # warm up: connections, leaders, PIDs
        rates: dict[str, list[float]] = {"ours": [], "baseline": []}
        for run in range(args.runs):
            rates["ours"].append(produce_rate(settings, ours, args.events, seed=run))
            rates["baseline"].append(produce_rate(settings, stock, args.events, seed=run))
            print(
                f"run {run + 1}: ours {rates['ours'][-1]:,.0f}/s, "
                f"baseline {rates['baseline'][-1]:,.0f}/s",
                flush=True,
            )
        encoding = {"ours": encode_rate(ours, 100_000), "baseline": encode_rate(stock, 100_000)}
    report(args.events, args.runs, rates, encoding)


def report(
    events: int, runs: int, rates: dict[str, list[float]], encoding: dict[str, float]
) -> None:
    ours, baseline = statistics.median(rates["ours"]), statistics.median(rates["baseline"])
    result = {
        "events_per_run": events,
        "runs": runs,
        "producer_events_per_s": {"ours": round(ours), "baseline": round(baseline)},
        "ratio": round(ours / baseline, 2),
        "encode_only_events_per_s": {k: round(v) for k, v in encoding.items()},
        "all_runs": {k: [round(r) for r in v] for k, v in rates.items()},
        "target_events_per_s": 50_000,
        "cpus": os.cpu_count(),
    }
    print(f"producer with Avro, median of {runs} x {events:,} events (delivered, acks=all):")
    print(f"  ours      {ours:>10,.0f} events/s   (target 50,000)")
    print(f"  baseline  {baseline:>10,.0f} events/s   (confluent-kafka AvroSerializer)")
    print(f"  ratio     {ours / baseline:>10.2f} x")
    print(f"encoding only: ours {encoding['ours']:,.0f}/s, baseline {encoding['baseline']:,.0f}/s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "producer.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
