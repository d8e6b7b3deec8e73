"""The benchmark's PNG: throughput, latency percentiles, and memory over the long run.

Throughput and latency use log scales: ours and the baseline differ by orders of magnitude,
and on a linear axis the baseline's bars would not show at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OURS_COLOR, BASELINE_COLOR, TARGET_COLOR = "#1f6fb2", "#c8553d", "#555555"
PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"))
MEMORY_TARGET_MB = 200


def draw(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    figure, (speed, latency, memory) = plt.subplots(1, 3, figsize=(16, 5.2))
    try:
        _throughput(speed, result)
        _latency(latency, result["latency_ms"])
        _memory(memory, result["memory_mb"])
        machine = result["machine"]
        figure.suptitle(
            f"Order pipeline vs textbook baseline ({machine['cpus']} CPUs, shared; "
            f"librdkafka {machine['librdkafka']}, Python {machine['python']})",
            fontsize=13,
        )
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
    return path


def _bars(axes: Any, x: list[float], values: list[float], color: str, label: str) -> None:
    bars = axes.bar(x, values, width=0.38, color=color, label=label)
    for bar, value in zip(bars, values, strict=True):
        text = f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"
        where = (bar.get_x() + bar.get_width() / 2, value)
        axes.annotate(
            text,
            where,
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )


def _throughput(axes: Any, result: dict[str, Any]) -> None:
    groups = [("producer (Avro)", "producer_events_per_s"), ("end to end", "e2e_events_per_s")]
    x = list(range(len(groups)))
    ours = [result[key]["ours"] for _, key in groups]
    baseline = [result[key]["baseline"] for _, key in groups]
    _bars(axes, [i - 0.2 for i in x], ours, OURS_COLOR, "this pipeline")
    _bars(axes, [i + 0.2 for i in x], baseline, BASELINE_COLOR, "textbook baseline")
    axes.set_xticks(
        x, [f"{name}\nours / baseline {result[key]['ratio']:,.1f}x" for name, key in groups]
    )
    axes.set_yscale("log")
    axes.set_ylim(top=max(ours + baseline) * 4)
    axes.set_ylabel("events/s (log scale)")
    axes.set_title("Throughput (median of runs)")
    axes.legend(loc="upper right", fontsize=9)


def _latency(axes: Any, latency: dict[str, Any]) -> None:
    x = list(range(len(PERCENTILES)))
    ours = [latency["ours"][key] for key, _ in PERCENTILES]
    baseline = [latency["baseline"][key] for key, _ in PERCENTILES]
    _bars(axes, [i - 0.2 for i in x], ours, OURS_COLOR, "this pipeline")
    _bars(axes, [i + 0.2 for i in x], baseline, BASELINE_COLOR, "textbook baseline")
    axes.axhline(100, color=TARGET_COLOR, linestyle="--", linewidth=1)
    where = (-0.5, 100)
    axes.annotate(
        " p99 target 100 ms", where, ha="left", va="bottom", fontsize=8, color=TARGET_COLOR
    )
    axes.set_xticks(x, [label for _, label in PERCENTILES])
    axes.set_yscale("log")
    axes.set_ylim(top=max(ours + baseline) * 4)
    axes.set_ylabel("produce → row committed, ms (log scale)")
    axes.set_title(f"Latency at {latency['rate_events_per_s']:,.0f} events/s")
    axes.legend(loc="upper left", fontsize=9)


def _memory(axes: Any, memory: dict[str, Any]) -> None:
    samples = memory["samples"]
    axes.plot([t for t, _ in samples], [mb for _, mb in samples], color=OURS_COLOR)
    axes.axhline(MEMORY_TARGET_MB, color=TARGET_COLOR, linestyle=":", linewidth=1)
    label = f"{MEMORY_TARGET_MB} MiB"
    axes.annotate(label, (0, MEMORY_TARGET_MB), va="bottom", fontsize=8, color=TARGET_COLOR)
    axes.set_ylim(0, max(MEMORY_TARGET_MB, memory["peak_mb"]) * 1.15)
    axes.set_xlabel("seconds since the service was ready")
    axes.set_ylabel("resident memory, MiB")
    axes.set_title(
        f"Storage service RSS over {memory['events']:,} events\n"
        f"start {memory['start_mb']:.0f}, peak {memory['peak_mb']:.0f}, "
        f"end {memory['end_mb']:.0f} MiB",
        fontsize=11,
    )
