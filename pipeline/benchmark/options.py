"""How much the benchmark measures: event counts, the fixed rate, repeats."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent.parent.parent / "bench" / "results"


def write_results(result: dict[str, Any], folder: Path, name: str) -> Path:
    """A benchmark's figures as JSON in `folder` (made if missing); where they went."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    # Producer rate: events per run, for each side.
    producer_events: int = 200_000
    # End-to-end rate: events per run through our producer and storage service.
    e2e_events: int = 200_000
    # The textbook consumer commits one SQLite row at a time (~100-200 rows/s on this
    # machine's disk): its end-to-end and latency runs get this many events instead.
    baseline_events: int = 3_000
    # Latency at a fixed rate: events/s, and how long our side is driven at it.
    rate: float = 5_000.0
    latency_s: float = 20.0
    # Memory of the storage service over one long run.
    long_events: int = 1_000_000
    repeats: int = 3  # medians of this many runs (the long run is run once)
    output_dir: Path = RESULTS_DIR
    chart: bool = True

    def quick(self) -> BenchOptions:
        """Small enough for a smoke test: every figure, measured once, in about a minute."""
        return replace(
            self,
            producer_events=5_000,
            e2e_events=5_000,
            baseline_events=200,
            latency_s=2.0,
            long_events=20_000,
            repeats=1,
        )

    @property
    def latency_events(self) -> int:
        return max(1, int(self.rate * self.latency_s))
