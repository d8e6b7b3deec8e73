"""`bench devstack`, warm only and briefly: a broker of its own started, measured, stopped."""

from __future__ import annotations

import psutil

from pipeline.benchmark.devstack import HOME_PREFIX, DevstackBenchOptions, run_devstack_bench


def benchmark_brokers() -> list[int]:
    """Processes running from a stack folder of this benchmark (others' brokers do not count)."""
    return [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if HOME_PREFIX in " ".join(process.info["cmdline"] or [])
    ]


def test_one_warm_start_is_timed_and_its_broker_stopped() -> None:
    lines: list[str] = []
    result = run_devstack_bench(
        DevstackBenchOptions(runs=1, cold=False, settle_s=0.5), out=lines.append
    )
    assert result["warm_s"] > 0 and result["rss_mb"] > 0
    assert "cold_s" not in result
    assert lines[0].startswith("dev up, warm (jars cached), median of 1: ")
    assert benchmark_brokers() == []
