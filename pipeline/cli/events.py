"""`produce`, `consume SERVICE`, `dlq`: order events through Kafka."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.progress import Progress

from pipeline.cli.common import settings_of
from pipeline.cli.views import ConsumeView, detail
from pipeline.dlq import read_dead_letters
from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions
from pipeline.producer import produce as run_produce
from pipeline.services.guarantees import Guarantee
from pipeline.services.runner import Runner, RunOptions, ServiceTuning, make_service

# Seeded runs start their simulated clock here, so the same seed gives the same bytes.
SEEDED_START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@click.command()
@click.option("--count", type=click.IntRange(0), help="Events to send [1000; 0: no limit].")
@click.option("--rate", type=click.FloatRange(0, min_open=True), help="Events/s [unlimited].")
@click.option("--duration", type=click.FloatRange(0, min_open=True), help="Stop after seconds.")
@click.option(
    "--orders",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Orders in flight at once (their events interleave).",
)
@click.option("--seed", type=int, help="Reproducible run: same seed, same events.")
@click.option(
    "--schema",
    "schema_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Registered schema version to write with [schemas/order_event.v1.avsc].",
)
@click.option("--topic", help="Topic to write to [order-events].")
@click.option(
    "--anomalies",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of steps replaced by duplicates, swaps, unknown orders.",
)
@click.option(
    "--cancellations",
    type=click.FloatRange(0, 1),
    help="Share of placed or confirmed orders cancelled [0.05 with a schema that has "
    "CANCELLED (v3), else 0].",
)
@click.pass_context
def produce(
    ctx: click.Context,
    count: int | None,
    rate: float | None,
    duration: float | None,
    orders: int,
    seed: int | None,
    schema_path: Path | None,
    topic: str | None,
    anomalies: float,
    cancellations: float | None,
) -> None:
    """Send realistic order lifecycles, Avro-encoded with a registered schema.

    The schema must already be registered under the topic's value subject
    (python cli.py schema register FILE); nothing is sent otherwise.

    Example: python cli.py produce --count 10000 --rate 2000 --seed 42
    """
    settings = settings_of(ctx).with_(topic=topic)
    limit = (None if duration else 1000) if count is None else (count or None)
    options = ProduceOptions(
        count=limit,
        rate=rate,
        duration_s=duration,
        orders=orders,
        seed=seed,
        schema_path=schema_path or DEFAULT_SCHEMA,
        anomaly_rate=anomalies,
        start_ms=SEEDED_START_MS if seed is not None else None,
        cancel_rate=cancellations,
    )
    with Progress(transient=True) as bar:
        task = bar.add_task(f"producing to {settings.topic}", total=limit)
        summary = run_produce(settings, options, lambda s: bar.update(task, completed=s.produced))
    for line in summary.describe():
        click.echo(line)
    if not summary.ok:
        sys.exit(1)


@click.command()
@click.argument("service", type=click.Choice(["order-processor", "analytics", "storage"]))
@click.option(
    "--group",
    help="Consumer group [the service's name; on another topic or store, one named after them].",
)
@click.option("--topic", help="Topic to read [order-events].")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="storage: the SQLite audit store [data/audit.db].",
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--max-events", type=click.IntRange(1), help="Stop after this many messages.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0, min_open=True),
    help="Stop after this many seconds with nothing to read.",
)
@click.option(
    "--guarantee",
    type=click.Choice([g.value for g in Guarantee]),
    help="order-processor, analytics: how a batch commits [exactly-once].",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="order-processor, analytics: local state folder [data/state].",
)
@click.option(
    "--window",
    type=click.IntRange(1),
    help="analytics: tumbling window, seconds of event time [60].",
)
@click.option(
    "--grace",
    type=click.IntRange(0),
    help="analytics: seconds a window waits for late events [10].",
)
@click.option(
    "--retention",
    type=click.IntRange(1),
    help="Seconds of event time a finished order stays in the state [3600].",
)
@click.option(
    "--instance-id",
    help="Static membership (group.instance.id): a restart within the session timeout keeps "
    "this instance's partitions without a rebalance; when it stops, they wait that long.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON snapshots, not a live view.")
@click.option(
    "--interval",
    type=click.FloatRange(0.1),
    default=1.0,
    show_default=True,
    help="Seconds between view updates.",
)
@click.pass_context
def consume(
    ctx: click.Context,
    service: str,
    group: str | None,
    topic: str | None,
    db_path: Path | None,
    batch_size: int,
    max_events: int | None,
    idle_timeout: float | None,
    guarantee: str | None,
    state_dir: Path | None,
    window: int | None,
    grace: int | None,
    retention: int | None,
    instance_id: str | None,
    as_json: bool,
    interval: float,
) -> None:
    """Run a service on the order topic until Ctrl-C (or a limit); commits what it finished.

    A second instance with the same group shares the partitions.

    Example: python cli.py consume analytics --json --idle-timeout 10
    """
    # Another topic gets outputs named after it (`T.dlq`, `T.alerts`, `T.stats`), and a
    # group too.
    settings = settings_of(ctx).reading(topic).with_(db_path=db_path, state_dir=state_dir)
    tuning = ServiceTuning(window_s=window, grace_s=grace, retention_s=retention)
    worker = make_service(service, settings, tuning)
    options = RunOptions(
        group_id=group,
        batch_size=batch_size,
        max_events=max_events,
        idle_timeout_s=idle_timeout,
        guarantee=Guarantee(guarantee) if guarantee else None,
        instance_id=instance_id,
    )
    with ConsumeView(worker, as_json=as_json, interval_s=interval) as view:
        runner = Runner(settings, worker, options, on_tick=view.tick)
        summary = runner.run()
    view.final(summary)
    if not as_json:
        click.echo(summary.describe())
        click.echo(detail(worker))


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Show the last N dead letters.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
@click.option("--topic", help="The dead-letter topic [order-events.dlq].")
@click.pass_context
def dlq(ctx: click.Context, limit: int, as_json: bool, topic: str | None) -> None:
    """List what landed on the dead-letter topic, and why.

    Example: python cli.py dlq --limit 50
    """
    settings = settings_of(ctx).with_(dlq_topic=topic)
    records = read_dead_letters(settings, limit)
    if as_json:
        for record in records:
            click.echo(json.dumps(record.to_dict()))
        return
    click.echo(f"{len(records)} dead letter(s) on {settings.dlq_topic} (last {limit} shown)")
    for record in records:
        click.echo(record.describe())
