"""`bench`: this pipeline against a textbook baseline, on this machine, in one run."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from pipeline.benchmark.chart import draw
from pipeline.benchmark.options import BenchOptions
from pipeline.benchmark.report import CHART_NAME, table, write_json
from pipeline.benchmark.run import run_bench
from pipeline.cli.common import format_duration, settings_of
from pipeline.cli.types import count, number
from pipeline.errors import ConfigError


@click.command()
@click.option("--quick", is_flag=True, help="Small runs, measured once (a smoke test).")
@click.option("--repeats", type=count(1), help="Runs per figure; medians [3].")
@click.option("--producer-events", type=count(1), help="Per producer run [200,000].")
@click.option("--e2e-events", type=count(1), help="Per end-to-end run [200,000].")
@click.option(
    "--baseline-events",
    type=count(1),
    help="Per run of the (slow) textbook consumer [3,000].",
)
@click.option("--rate", type=number(1), help="Fixed rate for latency [5,000/s].")
@click.option("--latency-seconds", type=number(0.5), help="Per latency run of ours [20].")
@click.option("--long-events", type=count(1), help="Memory run of the storage service [1,000,000].")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for bench.json and bench.png [bench/results].",
)
@click.option("--no-chart", is_flag=True, help="Write no PNG.")
@click.pass_context
def bench(
    ctx: click.Context,
    quick: bool,
    repeats: int | None,
    producer_events: int | None,
    e2e_events: int | None,
    baseline_events: int | None,
    rate: float | None,
    latency_seconds: float | None,
    long_events: int | None,
    output: Path | None,
    no_chart: bool,
) -> None:
    """Measure producer rate, end-to-end rate, latency and memory against a textbook baseline.

    Uses the broker and registry named by --bootstrap-servers / --registry-url (or the
    environment); otherwise starts a throwaway broker and registry and stops them after.
    Prints a table with the ratios, writes bench/results/bench.json and bench.png.

    Example: python cli.py bench --quick
    """
    options = BenchOptions().quick() if quick else BenchOptions()
    changes: dict[str, Any] = {
        "repeats": repeats,
        "producer_events": producer_events,
        "e2e_events": e2e_events,
        "baseline_events": baseline_events,
        "rate": rate,
        "latency_s": latency_seconds,
        "long_events": long_events,
        "output_dir": output,
    }
    options = replace(options, chart=not no_chart, **{k: v for k, v in changes.items() if v})
    try:  # before minutes of measuring, not after
        options.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write results to {options.output_dir}: {exc.strerror}") from exc
    root = ctx.find_root().params
    try:
        result = run_bench(
            settings_of(ctx),
            options,
            own_broker=not root.get("bootstrap_servers"),
            own_registry=not root.get("registry_url"),
            progress=lambda line: click.echo(f"  {line}", err=True),
        )
    except KeyboardInterrupt:
        click.echo("stopped: no figures written", err=True)
        sys.exit(130)
    for line in table(result):
        click.echo(line)
    click.echo(f"figures: {write_json(result, options.output_dir)}")
    if options.chart:
        click.echo(f"chart: {draw(result, options.output_dir / CHART_NAME)}")
    click.echo(f"took {format_duration(result['seconds'])}")
