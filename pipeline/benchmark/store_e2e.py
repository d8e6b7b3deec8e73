"""`bench store --e2e`: the storage service end to end, from Kafka through the real runner.

Events are produced into a topic of their own by another process (so that this process's
memory is the service's alone); then the storage service consumes them through the shared
runner into SQLite, timed from its first batch. The broker and registry are the ones named
(flags or environment), else started for the run; the topics and subject it creates are
deleted at the end. Called by `store.py --e2e`, or alone:

    python -m pipeline.benchmark.store_e2e [--events 1000000] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import psutil

from pipeline.benchmark.commandline import Out, add_target_arguments, run_main, say, target_of
from pipeline.benchmark.stack import BenchError, Lane, Target, workspace
from pipeline.benchmark.worker import settings_config, settings_from
from pipeline.producer import ProduceOptions, produce
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from pipeline.services.summary import RunSummary

MiB = 2**20
PRODUCE_TIMEOUT_S = 1200


class Meter:
    """Samples RSS on every runner tick, and times from the first batch handled."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.first: tuple[float, int] | None = None
        self.rss_peak = 0.0

    def tick(self, summary: RunSummary) -> None:
        if self.first is None and summary.consumed:
            self.first = (time.monotonic(), summary.consumed)
        self.rss_peak = max(self.rss_peak, self.process.memory_info().rss / MiB)


def run_store_e2e(target: Target, events: int, batch: int = 500, out: Out = say) -> dict[str, Any]:
    with workspace(target) as ws:
        out(f"end to end through the runner ({ws.settings.bootstrap_servers}), {events:,} events:")
        lane = ws.lane("storage")
        produce_elsewhere(lane, events, out)
        return consume(lane, events, batch, out)


def produce_elsewhere(lane: Lane, events: int, out: Out) -> None:
    """The events, sent by a child process (its summary line is passed on)."""
    child = [sys.executable, "-m", "pipeline.benchmark.store_e2e", "--events", str(events)]
    child += ["--produce-only", json.dumps(settings_config(lane.settings))]
    done = subprocess.run(child, capture_output=True, text=True, timeout=PRODUCE_TIMEOUT_S)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-1500:] or "(no output)"
        raise BenchError(f"the producer process failed (exit code {done.returncode}): {tail}")
    for line in done.stdout.splitlines():
        out(line)


def consume(lane: Lane, events: int, batch: int, out: Out) -> dict[str, Any]:
    # The runner bounds librdkafka's prefetch itself: the service runs as `consume` runs it.
    meter, service = Meter(), StorageService(lane.settings)
    options = RunOptions(
        group_id=lane.group, batch_size=batch, max_events=events, idle_timeout_s=30.0
    )
    summary = Runner(lane.settings, service, options, on_tick=meter.tick).run()
    ended = time.monotonic()
    began, before = meter.first or (ended, 0)
    rate = (summary.consumed - before) / (ended - began) if ended > began else 0.0
    out(
        f"  storage service, batches of {batch}: {rate:,.0f} events/s sustained "
        f"({service.summary_line()})"
    )
    out(f"  storage service memory (RSS of its process): peak {meter.rss_peak:.0f} MiB")
    return {
        "events": events,
        "consumed": summary.consumed,
        "events_per_s": round(rate),
        "rss_peak_mb": round(meter.rss_peak, 1),
    }


def produce_only(events: int, config: dict[str, Any]) -> None:
    sent = produce(settings_from(config), ProduceOptions(count=events, seed=1, orders=1000))
    if sent.interrupted or sent.delivered != events:
        raise BenchError(f"delivered {sent.delivered:,} of {events:,} events: {sent.errors}")
    print(f"  producer (own process): {sent.rate:,.0f} events/s ({sent.delivered:,} delivered)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.store_e2e", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--produce-only", metavar="SETTINGS_JSON", help=argparse.SUPPRESS)
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    if args.produce_only:
        return run_main(lambda: produce_only(args.events, json.loads(args.produce_only)))
    return run_main(lambda: run_store_e2e(target_of(args), args.events, args.batch))


if __name__ == "__main__":
    raise SystemExit(main())
