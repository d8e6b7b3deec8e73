"""`produce`, `consume SERVICE`, `dlq`: order events through Kafka."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from pipeline.cli.common import progress_bar, require_reachable, require_topic, settings_of
from pipeline.cli.types import count, number
from pipeline.cli.views import ConsumeView, detail
from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions, ProduceSummary
from pipeline.schema_lab.feed import produce_generated, produce_lines
from pipeline.services.groups import chosen_group
from pipeline.services.guarantees import Guarantee
from pipeline.services.runner import Runner, RunOptions, ServiceTuning, make_service

# Seeded runs start their simulated clock here, so the same seed gives the same bytes.
SEEDED_START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@click.command()
@click.option("--count", type=count(0), help="Events to send [1000; 0: no limit].")
@click.option("--rate", type=number(0, min_open=True), help="Events/s [unlimited].")
@click.option("--duration", type=number(0, min_open=True), help="Stop after seconds.")
@click.option(
    "--orders",
    type=count(1),
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
    "--from",
    "source",
    type=click.File("r", encoding="utf-8"),
    help="Send the JSON lines of this file (- for stdin) instead of generated events.",
)
@click.option(
    "--anomalies",
    type=number(0, 1),
    default=0.0,
    show_default=True,
    help="Share of steps replaced by duplicates, swaps, unknown orders.",
)
@click.option(
    "--cancellations",
    type=number(0, 1),
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
    source: TextIO | None,
    anomalies: float,
    cancellations: float | None,
) -> None:
    """Send realistic order lifecycles, Avro-encoded with a registered schema.

    The schema must already be registered under the topic's value subject
    (python cli.py schema register FILE); nothing is sent otherwise. Any record schema
    works: each field is filled by name, by alias, by its default, or generated, and the
    output says which. With --from, JSON lines are sent instead; a line that does not fit
    the schema is reported with its number and left out.

    Example: python cli.py produce --count 10000 --rate 2000 --seed 42
    """
    settings = settings_of(ctx).with_(topic=topic)
    require_reachable(settings)
    limit = (None if duration else 1000) if count is None else (count or None)
    options = ProduceOptions(
        count=limit if source is None else (count or None),
        rate=rate,
        duration_s=duration,
        # Orders in flight beyond the events sent are never used (a million took 12 s).
        orders=min(orders, max(limit, 100)) if limit else orders,
        seed=seed,
        schema_path=schema_path or DEFAULT_SCHEMA,
        anomaly_rate=anomalies,
        start_ms=SEEDED_START_MS if seed is not None else None,
        cancel_rate=cancellations,
    )
    with progress_bar() as bar:
        task = bar.add_task(f"producing to {settings.topic}", total=options.count)

        def tick(summary: ProduceSummary) -> None:
            bar.update(task, completed=summary.produced)

        if source is None:
            fed = produce_generated(settings, options, tick)
        else:
            fed = produce_lines(settings, options, iter(source), tick)
    if len(fed.filled) > 1:  # not just "every field filled by name"
        for line in fed.filled:
            click.echo(line)
    for refusal in fed.refused:
        click.echo(f"line {refusal.line} refused: {refusal.reason}", err=True)
    summary = fed.summary
    for line in summary.describe():
        click.echo(line)
    if fed.refused:
        click.echo(f"{len(fed.refused)} line(s) refused (not sent)")
    if fed.refused or not summary.ok:
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
@click.option(
    "--store",
    "store_url",
    help="storage: the audit store on PostgreSQL, postgresql://USER@HOST:PORT/DB "
    "[AUDIT_STORE_URL; else the SQLite file].",
)
@click.option(
    "--batch-size",
    type=count(1, 10_000),
    default=2000,
    show_default=True,
    help="Messages handled, stored and committed together at most (exactly-once: a "
    "backlog is taken up to 5,000, or this if larger, per transaction).",
)
@click.option("--max-events", type=count(1), help="Stop after this many messages.")
@click.option(
    "--idle-timeout",
    type=number(0, min_open=True),
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
@click.option("--create", is_flag=True, help="Create --topic (and its .dlq) if it does not exist.")
@click.option(
    "--interval",
    type=number(0.1),
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
    store_url: str | None,
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
    create: bool,
    interval: float,
) -> None:
    """Run a service on the order topic until Ctrl-C (or a limit); commits what it finished.

    A second instance with the same group shares the partitions.

    Example: python cli.py consume analytics --json --idle-timeout 10
    """
    # Another topic gets outputs named after it (`T.dlq`, `T.alerts`, `T.stats`), and a
    # group too.
    settings = (
        settings_of(ctx)
        .reading(topic)
        .with_(db_path=db_path, store_url=store_url, state_dir=state_dir)
    )
    chosen_group(service, settings, group)  # a refused --group is said before connecting
    require_reachable(settings)
    if topic and not create:
        require_topic(settings, topic)
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
