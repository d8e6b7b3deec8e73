"""The benchmark's result as a table for the terminal, and as JSON on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.benchmark.options import write_results

JSON_NAME = "bench.json"
CHART_NAME = "bench.png"


def table(result: dict[str, Any]) -> list[str]:
    """The figures side by side, with the ratio to the baseline and the targets."""
    producer, e2e = result["producer_events_per_s"], result["e2e_events_per_s"]
    latency, memory = result["latency_ms"], result["memory_mb"]
    ours, base = latency["ours"], latency["baseline"]
    rate = f"{latency['rate_events_per_s']:,.0f}/s"
    rows = [
        ("", "ours", "baseline", "ratio"),
        (
            "producer, Avro (events/s)",
            _n(producer["ours"]),
            _n(producer["baseline"]),
            f"{producer['ratio']:,.1f}x",
        ),
        (
            "end to end into SQLite (events/s)",
            _n(e2e["ours"]),
            _n(e2e["baseline"]),
            f"{e2e['ratio']:,.1f}x",
        ),
        (f"latency p50 at {rate} (ms)", _ms(ours["p50"]), _ms(base["p50"]), ""),
        (f"latency p99 at {rate} (ms)", _ms(ours["p99"]), _ms(base["p99"]), ""),
    ]
    lines = [f"{a:<36}{b:>12}{c:>12}{d:>10}" for a, b, c, d in rows]
    lines.append(
        f"storage service memory over {memory['events']:,} events: "
        f"{memory['start_mb']:.0f} MiB at start, peak {memory['peak_mb']:.0f} MiB, "
        f"{memory['end_mb']:.0f} MiB at the end"
    )
    lines.append(
        f"targets: end-to-end >= {result['targets']['e2e_ratio_at_least']:.0f}x the baseline: "
        f"{_verdict(result['targets']['e2e_ratio_met'])}; p99 < "
        f"{result['targets']['p99_ms_under']:.0f} ms at {rate}: "
        f"{_verdict(latency['p99_target_met'])}"
    )
    if base["stored_events_per_s"] < 0.9 * latency["rate_events_per_s"]:
        lines.append(
            f"(the baseline stores only {base['stored_events_per_s']:,.0f} rows/s, so at {rate} "
            f"its latency grows with the run: it was given {base['events_per_run']:,} events)"
        )
    return lines


def write_json(result: dict[str, Any], folder: Path) -> Path:
    return write_results(result, folder, JSON_NAME)


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"
