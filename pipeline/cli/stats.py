"""`stats`: analytics' closed windows of every partition, merged, from the stats topic."""

from __future__ import annotations

import json

import click
from rich.console import Console

from pipeline.cli.common import require_topic, settings_of
from pipeline.cli.views import render
from pipeline.services.stats_reader import read_picture


@click.command()
@click.option("--topic", help="The input topic analytics read [order-events].")
@click.option(
    "--last",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Show the last N windows beside the totals.",
)
@click.option("--json", "as_json", is_flag=True, help="Every window and the totals as JSON.")
@click.pass_context
def stats(ctx: click.Context, topic: str | None, last: int, as_json: bool) -> None:
    """Closed windows of all partitions, merged (read committed from the stats topic).

    Example: python cli.py stats --last 5
    """
    settings = settings_of(ctx).reading(topic)
    require_topic(settings, settings.topic, creatable=False)
    picture = read_picture(settings)
    if as_json:
        click.echo(json.dumps(picture.to_dict()))
        return
    if not picture.windows:
        click.echo(f"no closed window on {settings.stats_topic} yet")
        return
    Console().print(render(picture, max_windows=last))
    shown = min(last, len(picture.windows))
    click.echo(
        f"{shown} of {len(picture.windows)} window(s) shown; totals as of each partition's "
        f"last closed window, partitions {picture.partitions}"
    )
