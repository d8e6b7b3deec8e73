"""`run_bench()`: every measurement in one run, repeated, gathered into one result dict.

Runs alternate ours and the baseline within each repeat, so background load on a shared
machine falls on both; figures are medians of the repeats, and every run is kept.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import confluent_kafka

from pipeline.benchmark import measure
from pipeline.benchmark.measure import BASELINE, OURS
from pipeline.benchmark.options import BenchOptions
from pipeline.benchmark.stack import Target, Workspace, workspace
from pipeline.benchmark.stats import median_summary
from pipeline.config import Settings

Progress = Callable[[str], None]
E2E_TARGET_RATIO = 10.0
P99_TARGET_MS = 100.0


def run_bench(
    settings: Settings,
    options: BenchOptions,
    *,
    own_broker: bool,
    own_registry: bool,
    progress: Progress = lambda _line: None,
) -> dict[str, Any]:
    began = time.monotonic()
    if own_broker or own_registry:
        progress("starting a throwaway " + ("broker and registry" if own_broker else "registry"))
    with workspace(Target(settings, own_broker, own_registry)) as ws:
        result = _measure(ws, options, progress)
    result["machine"] = machine(own_broker)
    result["options"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()}
    result["seconds"] = round(time.monotonic() - began, 1)
    return result


def _measure(ws: Workspace, options: BenchOptions, progress: Progress) -> dict[str, Any]:
    repeats = range(options.repeats)
    progress("warming up (connections, partition leaders)")
    measure.producer_rate(ws, OURS, min(options.producer_events, 20_000), seed=99)
    producer = _pairs(
        progress,
        "producer",
        repeats,
        lambda side, run: measure.producer_rate(ws, side, options.producer_events, run),
    )
    e2e_events = {OURS: options.e2e_events, BASELINE: options.baseline_events}
    e2e = _pairs(
        progress,
        "end-to-end",
        repeats,
        lambda side, run: measure.e2e_rate(ws, side, e2e_events[side], run),
    )
    return {
        "producer_events_per_s": producer,
        "e2e_events_per_s": e2e,
        "latency_ms": _latency(ws, options, progress),
        "memory_mb": _memory(ws, options, progress),
        "targets": {
            "e2e_ratio_at_least": E2E_TARGET_RATIO,
            "e2e_ratio_met": e2e["ratio"] >= E2E_TARGET_RATIO,
            "p99_ms_under": P99_TARGET_MS,
        },
    }


def _pairs(
    progress: Progress, what: str, repeats: range, one: Callable[[str, int], float]
) -> dict[str, Any]:
    runs: dict[str, list[float]] = {OURS: [], BASELINE: []}
    for run in repeats:
        for side in (OURS, BASELINE):
            runs[side].append(round(one(side, run)))
            progress(f"{what} run {run + 1}/{len(repeats)}: {side} {runs[side][-1]:,.0f} events/s")
    ours, baseline = statistics.median(runs[OURS]), statistics.median(runs[BASELINE])
    return {
        OURS: ours,
        BASELINE: baseline,
        "ratio": round(ours / baseline, 1),
        "runs": runs,
    }


def _latency(ws: Workspace, options: BenchOptions, progress: Progress) -> dict[str, Any]:
    rate = options.rate
    runs = []
    for run in range(options.repeats):
        runs.append(measure.latency_run(ws, OURS, options.latency_events, rate, run))
        progress(
            f"latency at {rate:,.0f} events/s, run {run + 1}/{options.repeats}: ours "
            f"p50 {runs[-1]['p50']:.1f} ms, p99 {runs[-1]['p99']:.1f} ms"
        )
    # The baseline cannot store 5,000 rows/s: its queue, and so its latency, only grows, so
    # it gets a short burst (`baseline_events`) at the same rate.
    baseline = measure.latency_run(ws, BASELINE, options.baseline_events, rate, 0)
    progress(
        f"latency at {rate:,.0f} events/s: baseline p50 {baseline['p50']:,.0f} ms, "
        f"p99 {baseline['p99']:,.0f} ms ({baseline['stored_events_per_s']:,.0f} rows/s stored)"
    )
    ours = median_summary(runs)
    return {
        "rate_events_per_s": rate,
        OURS: {**ours, "events_per_run": options.latency_events, "runs": runs},
        BASELINE: {**baseline, "events_per_run": options.baseline_events},
        "p99_target_met": ours["p99"] < P99_TARGET_MS,
    }


def _memory(ws: Workspace, options: BenchOptions, progress: Progress) -> dict[str, Any]:
    progress(f"memory: our storage service over {options.long_events:,} events ...")
    memory = measure.memory_run(ws, options.long_events, seed=7)
    progress(
        f"memory: {memory['start_mb']:.0f} MiB at start, peak {memory['peak_mb']:.0f} MiB, "
        f"{memory['end_mb']:.0f} MiB at the end ({memory['events_per_s']:,} events/s)"
    )
    return memory


def machine(own_broker: bool) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "broker": "throwaway (started by the benchmark)" if own_broker else "given",
    }
