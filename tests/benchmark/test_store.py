"""`bench store`: the audit store alone, on small counts (no server); every figure there and
positive."""

from __future__ import annotations

from pipeline.benchmark.store import StoreBenchOptions, run_store_bench

SMALL = StoreBenchOptions(events=1_500, runs=1, compare_events=600, per_event_events=40)


def test_a_small_store_run_gives_every_figure() -> None:
    lines: list[str] = []
    result = run_store_bench(SMALL, out=lines.append)
    rates = [value for key, value in result.items() if key.endswith("events_per_s")]
    assert len(rates) == 7 and all(rate > 0 for rate in rates), result
    assert any("with partition positions" in line for line in lines)
    assert result["rss_mb"]["peak"] > 0
    assert lines[0] == "audit store, 1,500 events in batches of 500, 1 runs:"
    assert any(line.startswith("  textbook (journal, sync=FULL):") for line in lines)
    assert lines[-1].startswith("store vs textbook baseline: ")
