"""`bench producer`: producer throughput with Avro, our encoder against the stock one.

In one run, on the real broker and registry, each measured `--runs` times (alternating):
  * ours: `pipeline.producer.send_events` with `AvroEncoder` (fastavro, schema parsed once);
  * baseline: the same loop with the textbook baseline's encoder (`textbook.TextbookEncoder`:
    confluent-kafka's stock `AvroSerializer` called one event at a time, as its examples do).
Both generate the events, encode them, hand them to the same idempotent `acks=all`
producer, and wait for every delivery report; the clock covers all of that. Also timed:
encoding alone, without Kafka. Prints medians and writes producer.json.

The broker and registry are the ones named (flags or environment), else started for the
run; the topic and subject it creates are deleted at the end.

    python -m pipeline.benchmark.producer [--events 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from pipeline import registry_client
from pipeline.benchmark.commandline import Out, add_target_arguments, run_main, say, target_of
from pipeline.benchmark.options import RESULTS_DIR, write_results
from pipeline.benchmark.stack import BenchError, Lane, Target, workspace
from pipeline.benchmark.textbook import TextbookEncoder
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.producer import Encoder, ProduceOptions, send_events
from pipeline.serde import AvroEncoder

JSON_NAME = "producer.json"
TARGET_EVENTS_PER_S = 50_000


@dataclass(frozen=True, kw_only=True)
class ProducerBenchOptions:
    events: int = 200_000  # per run and side
    runs: int = 3
    warmup_events: int = 20_000  # first: connections, partition leaders, producer ids
    encode_events: int = 100_000  # encoding alone, without Kafka


def produce_rate(settings: Settings, encoder: Encoder, events: int, seed: int) -> float:
    stream = islice(generate_events(seed=seed, orders=1000), events)
    summary = send_events(settings, encoder, stream, ProduceOptions(count=events))
    if summary.interrupted:
        raise KeyboardInterrupt
    if summary.delivered != events or summary.failed:
        raise BenchError("; ".join(summary.describe()))
    return summary.rate


def encode_rate(encoder: Encoder, events: int) -> float:
    batch = list(islice(generate_events(seed=1, orders=1000), events))
    started = time.perf_counter()
    for event in batch:
        encoder.encode(event)
    return events / (time.perf_counter() - started)


def run_producer_bench(
    target: Target, options: ProducerBenchOptions, out: Out = say
) -> dict[str, Any]:
    """Both sides' rates, printed through `out` run by run; returns the figures."""
    with workspace(target) as ws:
        rates, encoding = _measure(ws.lane("producer"), options, out)
    return figures(options, rates, encoding)


def _measure(
    lane: Lane, options: ProducerBenchOptions, out: Out
) -> tuple[dict[str, list[float]], dict[str, float]]:
    settings, schema = lane.settings, lane.schema_str
    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(settings.topic)
        ours = AvroEncoder.for_subject(client, subject, schema)
        stock = TextbookEncoder(client, settings.topic, schema, lane.schema_id)
        produce_rate(settings, ours, options.warmup_events, seed=0)
        rates: dict[str, list[float]] = {"ours": [], "baseline": []}
        for run in range(options.runs):
            rates["ours"].append(produce_rate(settings, ours, options.events, seed=run))
            rates["baseline"].append(produce_rate(settings, stock, options.events, seed=run))
            out(
                f"run {run + 1}: ours {rates['ours'][-1]:,.0f}/s, "
                f"baseline {rates['baseline'][-1]:,.0f}/s"
            )
        n = options.encode_events
        encoding = {"ours": encode_rate(ours, n), "baseline": encode_rate(stock, n)}
    return rates, encoding


def figures(
    options: ProducerBenchOptions, rates: dict[str, list[float]], encoding: dict[str, float]
) -> dict[str, Any]:
    ours, baseline = statistics.median(rates["ours"]), statistics.median(rates["baseline"])
    return {
        "events_per_run": options.events,
        "runs": options.runs,
        "producer_events_per_s": {"ours": round(ours), "baseline": round(baseline)},
        "ratio": round(ours / baseline, 2),
        "encode_only_events_per_s": {k: round(v) for k, v in encoding.items()},
        "all_runs": {k: [round(r) for r in v] for k, v in rates.items()},
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "cpus": os.cpu_count(),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    rates, encoding = result["producer_events_per_s"], result["encode_only_events_per_s"]
    return [
        f"producer with Avro, median of {result['runs']} x {result['events_per_run']:,} events "
        "(delivered, acks=all):",
        f"  ours      {rates['ours']:>10,.0f} events/s   (target {TARGET_EVENTS_PER_S:,})",
        f"  baseline  {rates['baseline']:>10,.0f} events/s   (confluent-kafka AvroSerializer)",
        f"  ratio     {result['ratio']:>10.2f} x",
        f"encoding only: ours {encoding['ours']:,.0f}/s, baseline {encoding['baseline']:,.0f}/s",
    ]


def write_json(result: dict[str, Any], folder: Path) -> Path:
    return write_results(result, folder, JSON_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.producer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=200_000, help="Per run [200,000].")
    parser.add_argument("--runs", type=int, default=3, help="Figures are medians [3].")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="[bench/results]")
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    options = ProducerBenchOptions(events=args.events, runs=args.runs)

    def body() -> None:
        result = run_producer_bench(target_of(args), options)
        for line in summary_lines(result):
            say(line)
        say(f"figures: {write_json(result, args.output)}")

    return run_main(body)


if __name__ == "__main__":
    raise SystemExit(main())
