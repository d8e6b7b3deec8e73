"""`bench`: this pipeline against a textbook baseline, on this machine, in one run; and
`bench producer|registry|store|devstack|api|before-after`, the benchmarks of one part each.

Each parses its options, calls its benchmark in `pipeline/benchmark/` and prints the lines
it gives (the same benchmarks run as `python -m pipeline.benchmark.<name>`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from pipeline.benchmark import api, before_after, devstack, producer, registry, store
from pipeline.benchmark.chart import draw
from pipeline.benchmark.options import RESULTS_DIR, BenchOptions
from pipeline.benchmark.report import CHART_NAME, table, write_json
from pipeline.benchmark.run import run_bench
from pipeline.benchmark.stack import Target
from pipeline.benchmark.store_e2e import run_store_e2e
from pipeline.cli.common import format_duration, settings_of
from pipeline.cli.types import count, number
from pipeline.errors import ConfigError

# The options of `bench` itself (the comparison), refused with a subcommand.
SIZES = (
    "repeats",
    "producer_events",
    "e2e_events",
    "baseline_events",
    "rate",
    "latency_seconds",
    "long_events",
    "output",
)


@click.group(invoke_without_command=True)
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
    The commands below measure one part each.

    Example: python cli.py bench --quick
    """
    if ctx.invoked_subcommand is not None:
        if quick or no_chart or any(ctx.params[name] for name in SIZES):
            raise click.UsageError(
                f"these options size `bench`, not `bench {ctx.invoked_subcommand}`"
            )
        return
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
    _writable(options.output_dir)
    target = _target(ctx)
    with _stoppable():
        result = run_bench(
            target.settings,
            options,
            own_broker=target.own_broker,
            own_registry=target.own_registry,
            progress=lambda line: click.echo(f"  {line}", err=True),
        )
    for line in table(result):
        click.echo(line)
    click.echo(f"figures: {write_json(result, options.output_dir)}")
    if options.chart:
        click.echo(f"chart: {draw(result, options.output_dir / CHART_NAME)}")
    click.echo(f"took {format_duration(result['seconds'])}")


@bench.command("producer")
@click.option("--events", type=count(1), default=200_000, help="Per run [200,000].")
@click.option("--runs", type=count(1), default=3, help="Figures are medians [3].")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=RESULTS_DIR,
    help="Folder for producer.json [bench/results].",
)
@click.pass_context
def bench_producer(ctx: click.Context, events: int, runs: int, output: Path) -> None:
    """Producer throughput with Avro: our encoder against confluent-kafka's stock serializer.

    Both in the same idempotent acks=all producer loop, alternating, on the broker and
    registry named (or throwaway ones); also encoding alone.

    Example: python cli.py bench producer --events 20000 --runs 1
    """
    _writable(output)
    options = producer.ProducerBenchOptions(events=events, runs=runs)
    with _stoppable():
        result = producer.run_producer_bench(_target(ctx), options, out=click.echo)
    for line in producer.summary_lines(result):
        click.echo(line)
    click.echo(f"figures: {producer.write_json(result, output)}")


@bench.command("registry")
@click.option("--registrations", type=count(1), default=200, help="Per repeat [200].")
@click.option("--seconds", type=click.FloatRange(0.1), default=3.0, help="Per lookup repeat [3].")
@click.option("--repeats", type=count(1), default=3, help="Figures are medians [3].")
@click.pass_context
def bench_registry(ctx: click.Context, registrations: int, seconds: float, repeats: int) -> None:
    """Registration latency and uncached lookups per second of the schema registry.

    Measures --registry-url if given; otherwise starts the project's registry in a process
    of its own (`python -m pipeline.registry`) on a free port, and stops it after.

    Example: python cli.py bench registry --registrations 50 --seconds 1 --repeats 1
    """
    options = registry.RegistryBenchOptions(
        registrations=registrations, seconds=seconds, repeats=repeats
    )
    with _stoppable():
        results = registry.run_registry_bench(_target(ctx), options)
    for line in registry.summary_lines(results):
        click.echo(line)


@bench.command("store")
@click.option("--events", type=count(1), default=1_000_000, help="Per run [1,000,000].")
@click.option("--runs", type=count(1), default=3, help="Figures are medians [3].")
@click.option("--compare-events", type=count(1), default=200_000, help="[200,000]")
@click.option(
    "--per-event-events",
    type=count(1),
    default=5_000,
    help="One commit per event, each run up to [5,000].",
)
@click.option("--e2e", is_flag=True, help="Also the storage service through runner and broker.")
@click.pass_context
def bench_store(
    ctx: click.Context,
    events: int,
    runs: int,
    compare_events: int,
    per_event_events: int,
    e2e: bool,
) -> None:
    """The audit store alone (no Kafka): batched writes, memory, one commit per event.

    Example: python cli.py bench store --events 20000 --runs 1 --compare-events 10000
    """
    options = store.StoreBenchOptions(
        events=events,
        runs=runs,
        compare_events=compare_events,
        per_event_events=per_event_events,
    )
    with _stoppable():
        store.run_store_bench(options, out=click.echo)
        if e2e:
            run_store_e2e(_target(ctx), events, out=click.echo)


@bench.command("devstack")
@click.option("--runs", type=count(1), default=3, help="Warm starts; medians [3].")
@click.option("--skip-cold", is_flag=True, help="No start with an empty Maven repository.")
def bench_devstack(runs: int, skip_cold: bool) -> None:
    """How long `dev up` takes (cold and warm) and the broker's resident memory.

    Example: python cli.py bench devstack --runs 1 --skip-cold
    """
    options = devstack.DevstackBenchOptions(runs=runs, cold=not skip_cold)
    with _stoppable():
        devstack.run_devstack_bench(options, out=click.echo)


@bench.command("api")
@click.option("--seconds", type=click.FloatRange(1), default=10.0, help="Per measurement [10].")
@click.option("--rate", type=click.FloatRange(1), default=5000.0, help="Pipeline events/s [5000].")
@click.option("--pages", type=count(1), default=20, help="Dashboard pages open [20].")
@click.pass_context
def bench_api(ctx: click.Context, seconds: float, rate: float, pages: int) -> None:
    """POST /orders (1, 8, 32 clients) against the producer called directly; the API's cost
    with dashboard pages open while the pipeline runs at --rate.

    Example: python cli.py bench api --seconds 3 --pages 5
    """
    options = api.ApiBenchOptions(seconds=seconds, rate=rate, pages=pages)
    with _stoppable():
        api.run_api_bench(_target(ctx), options, out=click.echo)


@bench.command("before-after")
@click.option(
    "--base",
    default=before_after.RELEASE_BEFORE,
    show_default="the release before the hot-path work",
    help="The commit to compare this tree with.",
)
@click.option("--quick", is_flag=True, help="Every figure once, small (a smoke test).")
@click.option("--repeats", type=count(1), help="Runs per figure; medians [3].")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=RESULTS_DIR,
    help="Folder for before_after.json [bench/results].",
)
@click.pass_context
def bench_before_after(
    ctx: click.Context, base: str, quick: bool, repeats: int | None, output: Path
) -> None:
    """This tree against an earlier commit of it, alternating, on one broker, in one run.

    Producer, raw client limit, storage service, end to end, latency at 5,000 events/s and
    the storage service's memory; medians, ratios, the machine and its load.

    Example: python cli.py bench before-after --quick
    """
    _writable(output)
    defaults = before_after.BeforeAfterOptions()
    options = (defaults.quick() if quick else defaults).with_(base=base, repeats=repeats)
    with _stoppable():
        result = before_after.run_before_after(_target(ctx), options, out=click.echo)
    for line in before_after.table(result):
        click.echo(line)
    click.echo(f"figures: {before_after.write_json(result, output)}")


def _target(ctx: click.Context) -> Target:
    """The root's settings; a broker or registry not named there is started for the run."""
    root = ctx.find_root().params
    return Target(
        settings_of(ctx),
        own_broker=not root.get("bootstrap_servers"),
        own_registry=not root.get("registry_url"),
    )


def _writable(folder: Path) -> None:
    try:  # before minutes of measuring, not after
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write results to {folder}: {exc.strerror}") from exc


@contextmanager
def _stoppable() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        click.echo("stopped: no figures written", err=True)
        sys.exit(130)
