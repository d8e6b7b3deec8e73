"""`groups`: consumer lag at a glance, so a user sees which service is behind."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from pipeline.cli.common import METADATA_TIMEOUT_S, require_reachable, settings_of
from pipeline.cli.output import render
from pipeline.kafka.admin import Admin, GroupLag, group_lags
from pipeline.store.reports import Table

COLUMNS = ("group", "state", "members", "topic", "partition", "committed", "end", "lag")


@click.command()
@click.option("--topic", "topics", multiple=True, help="Only groups on this topic [order-events].")
@click.option("--all", "every_topic", is_flag=True, help="Groups on every topic.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group.")
@click.pass_context
def groups(ctx: click.Context, topics: tuple[str, ...], every_topic: bool, as_json: bool) -> None:
    """Each consumer group on the pipeline's topic: members, committed and end offsets, and
    the lag of each partition (how many messages the group has not finished yet).

    Example: python cli.py groups --topic order-events
    """
    settings = settings_of(ctx)
    require_reachable(settings)
    admin = Admin.from_settings(settings, timeout_s=METADATA_TIMEOUT_S)
    found = group_lags(admin, None if every_topic else topics or (settings.topic,))
    if as_json:
        for group in found:
            click.echo(json.dumps({**asdict(group), "lag": group.lag}))
        return
    for line in describe_groups(found, topics or (settings.topic,), every_topic):
        click.echo(line)


def describe_groups(found: list[GroupLag], topics: tuple[str, ...], every_topic: bool) -> list[str]:
    where = "any topic" if every_topic else ", ".join(topics)
    if not found:
        return [f"no consumer group has committed offsets on {where} yet"]
    lines = [render([lag_table(found)], "table"), ""]
    for group in sorted(found, key=lambda g: -g.lag):
        members = f"{group.members} member{'s' if group.members != 1 else ''}"
        verdict = "up to date" if group.lag == 0 else f"{group.lag:,} behind"
        lines.append(f"{group.group}: {verdict} ({group.state.lower()}, {members})")
    return lines


def lag_table(found: list[GroupLag]) -> Table:
    rows = tuple(
        (
            g.group,
            g.state.lower(),
            g.members,
            p.topic,
            p.partition,
            "-" if p.committed is None else p.committed,
            p.end,
            p.lag,
        )
        for g in found
        for p in g.partitions
    )
    return Table("consumer groups", COLUMNS, rows, "groups")
