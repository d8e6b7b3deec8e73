"""The measurements of one before/after run (see `before_after`), on one workspace."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pipeline.benchmark import machine_load
from pipeline.benchmark.stack import BenchError, Lane, Workspace
from pipeline.benchmark.trees import STAGE_PROBE, Tree, check_tree, probe, run_probe
from pipeline.benchmark.worker import settings_config

# The release this work is measured against: main when the hot-path work began.
RELEASE_BEFORE = "91493b95cee788927d865044dbf9f593c69315f5"
BEFORE, AFTER = "before", "after"
# `*_cpu`: events per second of the process's CPU time (all its threads): events per core,
# which a shared machine's load changes far less than it changes events per second.
FIGURES = ("producer", "producer_cpu", "raw", "storage", "storage_cpu", "e2e", "p50", "p99")
SLOWEST_EVENTS_PER_S = 1_000.0  # a run slower than this (plus slack) is declared stalled
SLACK_S = 120.0

Out = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class BeforeAfterOptions:
    base: str = RELEASE_BEFORE
    repeats: int = 3
    producer_events: int = 200_000
    storage_events: int = 200_000
    e2e_events: int = 200_000
    rate: float = 5_000.0
    latency_s: float = 20.0
    memory_events: int = 1_000_000
    stage_events: int = 50_000

    def quick(self) -> BeforeAfterOptions:
        """Every figure once, small (a smoke test of the harness, not a measurement)."""
        return replace(
            self,
            repeats=1,
            producer_events=5_000,
            storage_events=5_000,
            e2e_events=5_000,
            latency_s=2.0,
            memory_events=10_000,
            stage_events=2_000,
        )

    def with_(self, **changes: Any) -> BeforeAfterOptions:
        """A copy with `changes`; a change given as None (an option not used) is ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class Session:
    """The measurements of one run, on one workspace."""

    def __init__(
        self, ws: Workspace, trees: dict[str, Tree], options: BeforeAfterOptions, out: Out
    ) -> None:
        self.ws, self.trees, self.options, self.out = ws, trees, options, out

    def measure_all(self) -> dict[str, Any]:
        options = self.options
        self.out("warming up: one small producer run each (connections, partition leaders)")
        for side in (BEFORE, AFTER):
            self.producer(side, 0, min(5_000, options.producer_events))
        figures: dict[str, dict[str, Any]] = {
            name: {BEFORE: [], AFTER: [], "load": []} for name in FIGURES
        }
        for run in range(options.repeats):
            order = (BEFORE, AFTER) if run % 2 == 0 else (AFTER, BEFORE)
            self._repeat(run, order, figures)
        stages: dict[str, list[dict[str, float]]] = {BEFORE: [], AFTER: []}
        for run in range(options.repeats):
            for side in (BEFORE, AFTER) if run % 2 == 0 else (AFTER, BEFORE):
                stages[side].append(self.stages(side, run))
        self.out(f"memory: filling a topic with {options.memory_events:,} events (raw client)")
        filled = self.raw(99, options.memory_events)[1]
        memory = {side: self.memory(side, filled) for side in (BEFORE, AFTER)}
        return {
            "figures": {name: _medians(runs) for name, runs in figures.items()},
            "memory": memory,
            "stages": {side: _stage_medians(runs) for side, runs in stages.items()},
        }

    def _repeat(self, run: int, order: tuple[str, str], figures: dict[str, Any]) -> None:
        options = self.options
        with machine_load.Meter() as load:
            rate, filled = self.raw(run, options.storage_events)
            figures["raw"][AFTER].append(rate)
        figures["raw"]["load"].append(load.busy_percent)
        self._say(run, "raw client", AFTER, rate, load)
        for side in order:
            with machine_load.Meter() as load:
                value, per_cpu = self.producer(side, run + 1, options.producer_events)
            self._keep(figures, "producer", side, value, load, run)
            self._keep(figures, "producer_cpu", side, per_cpu, load, run, "per CPU s")
            with machine_load.Meter() as load:
                value, per_cpu = self.storage(side, filled, run)
            self._keep(figures, "storage", side, value, load, run)
            self._keep(figures, "storage_cpu", side, per_cpu, load, run, "per CPU s")
            with machine_load.Meter() as load:
                value = self.e2e(side, run)
            self._keep(figures, "e2e", side, value, load, run)
            with machine_load.Meter() as load:
                latency = self.latency(side, run)
            figures["p50"][side].append(latency["p50"])
            figures["p50"]["load"].append(load.busy_percent)
            self._keep(figures, "p99", side, latency["p99"], load, run, unit="ms")

    def _keep(
        self,
        figures: dict[str, Any],
        name: str,
        side: str,
        value: float,
        load: machine_load.Meter,
        run: int,
        unit: str = "events/s",
    ) -> None:
        figures[name][side].append(value)
        figures[name]["load"].append(load.busy_percent)
        self._say(run, name, side, value, load, unit)

    def _say(
        self, run: int, name: str, side: str, value: float, load: Any, unit: str = "events/s"
    ) -> None:
        shown = f"{value:,.1f} {unit}" if unit == "ms" else f"{value:,.0f} {unit}"
        self.out(
            f"run {run + 1}/{self.options.repeats} {name:<10} {side:<6} {shown:>18}   "
            f"(machine {load.busy_percent:.0f} % busy, load {load.load_1m:.2f})"
        )

    def lane(self, label: str) -> Lane:
        return self.ws.lane(f"{label}-{uuid.uuid4().hex[:6]}")

    def producer(self, side: str, seed: int, events: int) -> tuple[float, float]:
        """Delivered events/s, and events per CPU second of the producing process."""
        lane = self.lane(f"ba-prod-{side}")
        config = {**settings_config(lane.settings), "events": events, "seed": seed}
        result = run_probe(self.trees[side], "produce", config, _timeout(events))
        _check_delivered(side, result, events)
        return float(result["events_per_s"]), _per_cpu(events, result)

    def stages(self, side: str, run: int) -> dict[str, float]:
        """CPU per event of the side's in-process stages (`stage_probe.py`)."""
        events = self.options.stage_events
        lane = self.lane(f"ba-stages-{side}")
        config = {**settings_config(lane.settings), "events": events, "seed": 2000 + run}
        config["schema_str"] = lane.schema_str
        result = run_probe(self.trees[side], "stages", config, _timeout(events), STAGE_PROBE)
        self.out(
            f"run {run + 1}/{self.options.repeats} stages     {side:<6} "
            + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in result.items() if k.endswith("_us"))
            + f" us/event (batches of {result['batch']})"
        )
        return {k: float(v) for k, v in result.items() if k != "events"}

    def raw(self, run: int, events: int) -> tuple[float, Lane]:
        """The client limit; the topic it filled is the storage runs' input."""
        lane = self.lane("ba-raw")
        config = {**settings_config(lane.settings), "events": events, "seed": 1000 + run}
        config["schema_str"] = lane.schema_str
        result = run_probe(self.trees[AFTER], "raw", config, _timeout(events))
        _check_delivered("raw", result, events)
        return float(result["events_per_s"]), lane

    def storage(self, side: str, filled: Lane, run: int) -> tuple[float, float]:
        """Stored events/s, and events per CPU second of the service's process (from its
        first batch on)."""
        events = self.options.storage_events
        result = self._store(side, filled, f"ba-store-{side}-{run}", events, latency=False)
        return float(result["events_per_s"]), _per_cpu(events, result)

    def e2e(self, side: str, run: int) -> float:
        events = self.options.e2e_events
        lane = self.lane(f"ba-e2e-{side}")
        produced, stored = self._through(side, lane, events, None, run)
        return events / (stored["last_stored_at"] - produced["started_at"])

    def latency(self, side: str, run: int) -> dict[str, float]:
        options = self.options
        events = max(1, int(options.rate * options.latency_s))
        lane = self.lane(f"ba-lat-{side}")
        warmup = min(int(options.rate), events // 2)  # the first second: first fetch, lookups
        _, stored = self._through(side, lane, events, options.rate, run, warmup)
        latency: dict[str, float] = stored["latency_ms"]
        return latency

    def memory(self, side: str, filled: Lane) -> dict[str, Any]:
        """The side's storage service over the long topic, its RSS sampled from here."""
        events = self.options.memory_events
        result, samples = self._store_sampled(side, filled, f"ba-mem-{side}", events)
        peak = max([mb for _, mb in samples] + [result["rss_end_mb"]])
        figure = {
            "events": events,
            "start_mb": result["rss_ready_mb"],
            "peak_mb": round(peak, 1),
            "end_mb": result["rss_end_mb"],
            "events_per_s": round(result["events_per_s"]),
        }
        self.out(
            f"memory {side}: peak {figure['peak_mb']:.0f} MiB over {events:,} events "
            f"(start {figure['start_mb']:.0f}, end {figure['end_mb']:.0f}; "
            f"{figure['events_per_s']:,} events/s)"
        )
        return figure

    def _store(
        self, side: str, lane: Lane, label: str, events: int, latency: bool
    ) -> dict[str, Any]:
        return self._store_sampled(side, lane, label, events, latency)[0]

    def _store_sampled(
        self, side: str, lane: Lane, label: str, events: int, latency: bool = False
    ) -> tuple[dict[str, Any], list[tuple[float, float]]]:
        """The storage service of `side` on `lane`'s topic, with a group and file of its own."""
        config = self._store_config(lane, label, events, latency, 0)
        with probe(self.trees[side], "store", config) as worker:
            check_tree(worker, self.trees[side])
            worker.wait_ready()
            result = worker.result(_timeout(events))
            samples = worker.samples_since_ready()
        _check_stored(side, result, events)
        return result, samples

    def _store_config(
        self, lane: Lane, label: str, events: int, latency: bool, warmup: int
    ) -> dict[str, Any]:
        tag = f"{label}-{uuid.uuid4().hex[:6]}"
        settings = lane.settings.with_(db_path=self.ws.folder / f"{tag}.db")
        return {
            **settings_config(settings),
            "group": tag,
            "expect": events,
            "latency": latency,
            "warmup": warmup,
        }

    def _through(
        self, side: str, lane: Lane, events: int, rate: float | None, seed: int, warmup: int = 0
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The side's storage service started and ready, then its producer."""
        tree = self.trees[side]
        config = self._store_config(lane, f"ba-{side}", events, warmup > 0, warmup)
        with probe(tree, "store", config) as worker:
            check_tree(worker, tree)
            worker.wait_ready()
            sending = {**settings_config(lane.settings), "events": events, "seed": seed}
            produced = run_probe(tree, "produce", {**sending, "rate": rate}, _timeout(events))
            _check_delivered(side, produced, events)
            stored = worker.result(_timeout(events))
        _check_stored(side, stored, events)
        return produced, stored


def _medians(runs: dict[str, list[float]]) -> dict[str, Any]:
    figure: dict[str, Any] = {"runs": runs}
    for side in (BEFORE, AFTER):
        if runs[side]:
            figure[side] = round(statistics.median(runs[side]), 2)
    if runs[BEFORE] and runs[AFTER] and figure[BEFORE]:
        figure["ratio"] = round(figure[AFTER] / figure[BEFORE], 2)
    return figure


def _stage_medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}


def _per_cpu(events: int, result: dict[str, Any]) -> float:
    return events / max(float(result["cpu_s"]), 1e-6)


def _timeout(events: int) -> float:
    return SLACK_S + events / SLOWEST_EVENTS_PER_S


def _check_delivered(side: str, result: dict[str, Any], events: int) -> None:
    if result["delivered"] != events or result["failed"]:
        raise BenchError(
            f"the {side} producer delivered {result['delivered']} of {events} events "
            f"({result['failed']} failed)"
        )


def _check_stored(side: str, result: dict[str, Any], events: int) -> None:
    if result["rows"] != events or result["stored"] != events:
        raise BenchError(
            f"the {side} storage service stored {result['rows']} rows for {events} events "
            f"(handled {result['stored']})"
        )
