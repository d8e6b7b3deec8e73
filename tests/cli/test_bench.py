"""`python cli.py bench --quick` on the session's real broker and registry.

Only that every figure is there and positive: timings on a shared machine are not
asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli.main import cli

FIGURES = {
    "producer_events_per_s": ("ours", "baseline", "ratio"),
    "e2e_events_per_s": ("ours", "baseline", "ratio"),
    "memory_mb": ("events", "start_mb", "peak_mb", "end_mb", "events_per_s"),
}
LATENCIES = ("p50", "p90", "p99", "p999", "max", "count", "stored_events_per_s")


def test_quick_bench_writes_every_figure(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("--bootstrap-servers", kafka_bootstrap, "--registry-url", registry_url),
            *("bench", "--quick", "--long-events", "5000", "--output", str(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "bench.json").read_text())
    for section, keys in FIGURES.items():
        for key in keys:
            assert figures[section][key] > 0, f"{section}.{key}"
    for side in ("ours", "baseline"):
        for key in LATENCIES:
            assert figures["latency_ms"][side][key] > 0, f"latency {side}.{key}"
    assert figures["latency_ms"]["ours"]["count"] == 5_000  # 10,000 less the warm-up second
    assert figures["memory_mb"]["events"] == 5_000
    assert figures["memory_mb"]["samples"], "no memory samples"
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "end to end into SQLite (events/s)" in result.stdout
    assert f"figures: {tmp_path / 'bench.json'}" in result.stdout


def test_an_output_folder_that_cannot_be_made_fails_before_measuring(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["bench", "--quick", "--output", str(blocker / "results")])
    assert result.exit_code == 1
    expected = f"Error: cannot write results to {blocker / 'results'}: Not a directory\n"
    assert result.output == expected


# --- one part each: `bench producer|registry|store` (devstack: tests/benchmark) ---------


def test_bench_producer_prints_its_runs_and_writes_its_figures(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("--bootstrap-servers", kafka_bootstrap, "--registry-url", registry_url),
            *("bench", "producer", "--events", "1000", "--runs", "1", "--output", str(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "producer.json").read_text())
    assert figures["producer_events_per_s"]["ours"] > 0
    assert figures["producer_events_per_s"]["baseline"] > 0
    assert result.stdout.startswith("run 1: ours ")
    assert f"figures: {tmp_path / 'producer.json'}" in result.stdout


def test_bench_registry_starts_a_registry_process_when_none_is_named(
    kafka_bootstrap: str,
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("--bootstrap-servers", kafka_bootstrap),
            *("bench", "registry", "--registrations", "3", "--seconds", "0.2", "--repeats", "1"),
        ],
        env={"SCHEMA_REGISTRY_URL": ""},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("register_new_p50_ms ")
    assert "lookup_fresh_client_per_s" in result.stdout
    assert "target (>= 3000 lookups/s, p99 registration < 50 ms): " in result.stdout


def test_bench_store_measures_the_store_alone() -> None:
    args = ["--events", "1000", "--runs", "1", "--compare-events", "500"]
    result = CliRunner().invoke(cli, ["bench", "store", *args, "--per-event-events", "20"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit store, 1,000 events in batches of 500, 1 runs:")
    assert "  textbook (journal, sync=FULL):" in result.stdout


def test_bench_producer_checks_its_output_folder_before_measuring(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["bench", "producer", "--output", str(blocker / "out")])
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write results to {blocker / 'out'}: Not a directory\n"


def test_the_options_of_bench_itself_are_refused_with_a_subcommand() -> None:
    result = CliRunner().invoke(cli, ["bench", "--quick", "store"])
    assert result.exit_code == 2
    assert "these options size `bench`, not `bench store`" in result.output
