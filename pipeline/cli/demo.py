"""`demo`: the whole story on the embedded stack."""

from __future__ import annotations

import json
import sys

import click
from rich.progress import TaskID

from pipeline.cli.common import progress_bar, settings_of
from pipeline.cli.dev import dev_settings
from pipeline.cli.output import render
from pipeline.cli.types import count, number
from pipeline.demo.story import DemoOptions, DemoReport, run_story
from pipeline.devstack import stack


@click.command()
@click.option(
    "--events",
    type=count(100),
    default=20_000,
    show_default=True,
    help="Events in each producing phase.",
)
@click.option(
    "--rate",
    type=number(0),
    default=5_000,
    show_default=True,
    help="Events/s per producer (0: as fast as possible).",
)
@click.pass_context
def demo(ctx: click.Context, events: int, rate: float) -> None:
    """The whole story: stack up, v1 and v2 producers, three services, evolution, DLQ.

    Runs on the local stack (started if needed) and leaves it running.

    Example: python cli.py demo --events 5000
    """
    local = dev_settings({"home": None})
    click.echo("Starting the local stack (Kafka in KRaft mode, schema registry) ...")
    result = stack.up(local)
    where = f"Kafka at {local.bootstrap}, registry at {local.registry_url}"
    if result.started:
        click.echo(f"{where} ({result.seconds:.1f} s)")
    else:
        click.echo(f"The local stack was already running: {where}")
    settings = settings_of(ctx).with_(
        bootstrap_servers=local.bootstrap, registry_url=local.registry_url
    )
    options = DemoOptions(events=events, rate=rate or None)
    try:
        with progress_bar() as bar:
            tasks: dict[str, TaskID] = {}

            def progress(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done)

            report = run_story(settings, options, bar.console.print, progress)
    except KeyboardInterrupt:
        click.echo("Demo interrupted; the stack is still running (python cli.py dev down).")
        sys.exit(130)
    print_summary(report, str(settings.db_path))
    if "api" in result.started + result.already_running:
        click.echo(f"Dashboard: {local.api_url}/  (live charts, orders, schemas, dead letters)")


def dead_letters_line(report: DemoReport) -> str:
    """ "9 dead letters: 3 messages × 3 services": what the count counts."""
    letters, messages, services = report.dead_letters, report.dead_messages, report.dead_services
    noun = "dead letter" if letters == 1 else "dead letters"
    if letters and letters == messages * services:
        return f"{letters} {noun} this run: {messages} messages × {services} services"
    return f"{letters} {noun} this run, from {messages} messages"


def print_summary(report: DemoReport, db: str) -> None:
    new_columns = [c for c in report.columns_after if c not in report.columns_before]
    snap = report.analytics.get("totals", {})
    click.echo("")
    click.echo("Summary")
    click.echo(
        f"- events produced this run: {report.produced} (v1, then v1 and v2 at once, "
        "then 3 bad ones)"
    )
    click.echo(f"- analytics by status: {json.dumps(snap.get('by_status', {}))}")
    click.echo(f"- analytics by source: {json.dumps(snap.get('by_source', {}))}")
    click.echo(
        f"- closed one-minute windows on the stats topic: {report.windows_closed}, each "
        "written once as analytics closed it on event time (python cli.py stats)"
    )
    click.echo(f"- order processor, since its restart after the kill: {report.processor}")
    sources = sorted({str(r.get("source")) for r in report.processor_restores.values()})
    click.echo(f"  its state came back from: {', '.join(sources) or 'nothing to restore'}")
    once = "each once" if report.alert_ids_distinct else "SOME TWICE"
    click.echo(
        f"- alerts on {'the alerts topic'} (read committed, {once}): {report.alerts or 'none'}"
    )
    click.echo(f"- storage: {report.storage}")
    click.echo(
        f"- the store grew columns with v2: {', '.join(new_columns) or 'none (already there)'}"
    )
    click.echo(f"- breaking schema: {'refused' if report.refused_reason else 'NOT refused'}")
    click.echo(f"- {dead_letters_line(report)} (python cli.py dlq)")
    if report.timeline is not None:
        click.echo(f"- a sample timeline from the store ({report.timeline.title}):")
        click.echo(render([report.timeline], "table"))
    click.echo("")
    click.echo(f"Look around: python cli.py query stats   (the store is {db})")
    click.echo("Stop the stack: python cli.py dev down")
