"""`dev ...`: the local Kafka broker and schema registry, without Docker."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pipeline.cli.common import format_duration
from pipeline.devstack import postgres as pg
from pipeline.devstack import stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import PipelineError
from pipeline.kafka.admin import Admin
from pipeline.kafka.groups import group_lags

# Where the stack's files live: every `dev` command takes it.
HOME = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="The stack's state folder [.devstack].",
)
# How `dev up` starts the stack; later commands reuse what the last `up` used.
STACK_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--data-dir",
        {
            "type": click.Path(file_okay=False, path_type=Path),
            "help": "Kafka's data folder [HOME/kafka-data].",
        },
    ),
    ("--kafka-port", {"type": click.IntRange(1, 65535), "help": "The broker's port [9092]."}),
    (
        "--controller-port",
        {"type": click.IntRange(1, 65535), "help": "The KRaft controller's port [9093]."},
    ),
    (
        "--registry-port",
        {"type": click.IntRange(1, 65535), "help": "The schema registry's port [8081]."},
    ),
    ("--heap", {"help": "Broker JVM maximum heap, e.g. 512m or 1g [512m]."}),
    ("--postgres-port", {"type": click.IntRange(1, 65535), "help": "PostgreSQL's port [5432]."}),
    (
        "--api-port",
        {"type": click.IntRange(1, 65535), "help": "The API and dashboard's port [8000]."},
    ),
]


def dev_options(command: Any) -> Any:
    """`--home` and the options that say how `dev up` starts the stack."""
    for name, kwargs in reversed(STACK_OPTIONS):
        command = click.option(name, **kwargs)(command)
    return HOME(command)


def home_only(*shown: str) -> Callable[[Any], Any]:
    """`--home` (and the stack options named in `shown`); the other stack options are still
    accepted, hidden, with a warning: they used to be listed on every `dev` command, which
    ignored them, and go in the next release."""

    def decorate(command: Any) -> Any:
        for name, kwargs in reversed(STACK_OPTIONS):
            command = click.option(name, **{**kwargs, "hidden": name not in shown})(command)
        return HOME(command)

    return decorate


def warn_ignored(command: str, given: dict[str, Any], kept: tuple[str, ...] = ()) -> None:
    for name, value in given.items():
        if value is not None and name != "home" and name not in kept:
            flag = "--" + name.replace("_", "-")
            click.echo(
                f"warning: dev {command} ignores {flag} (it uses what the last `dev up` used); "
                "the option goes in the next release",
                err=True,
            )


def dev_settings(given: dict[str, Any]) -> DevStackSettings:
    """Defaults, then what the last `dev up` in this home used, then the flags given now."""
    base = stack.remembered(DevStackSettings(home=given.pop("home") or DevStackSettings().home))
    return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


def local_stack_defaults() -> dict[str, str]:
    """The addresses of the local stack running from this folder (`.devstack`), as Settings
    defaults: after `dev up --kafka-port 19092` every command finds it without flags."""
    running = stack.running_addresses(stack.remembered(DevStackSettings()))
    fields = {"kafka": "bootstrap_servers", "registry": "registry_url"}
    return {fields[part]: address for part, address in running.items() if part in fields}


@click.group()
def dev() -> None:
    """The local Apache Kafka broker (KRaft) and schema registry, without Docker.

    Example: python cli.py dev up && python cli.py dev status
    """


@dev.command("up")
@dev_options
@click.option("--no-registry", is_flag=True, help="Start only the Kafka broker.")
@click.option("--no-api", is_flag=True, help="Do not start the API and dashboard.")
@click.option(
    "--postgres/--no-postgres",
    default=None,
    help="Also run PostgreSQL for the audit store (kept for later `up`s until --no-postgres).",
)
def dev_up(no_registry: bool, no_api: bool, postgres: bool | None, **given: Any) -> None:
    """Start Kafka (and the registry, and PostgreSQL if asked); return once they answer.

    Example: python cli.py dev up --kafka-port 19092 --postgres
    """
    settings = dev_settings(given)
    settings = dataclasses.replace(settings, with_registry=not no_registry, with_api=not no_api)
    if postgres is not None:
        settings = dataclasses.replace(settings, with_postgres=postgres)
    click.echo(f"Starting the local stack in {settings.home} ...")
    result = stack.up(settings)
    for part in result.already_running:
        click.echo(f"{part}: already running")
    for part in result.started:
        click.echo(f"{part}: started")
    click.echo(
        f"Kafka at {settings.bootstrap}"
        + (f", schema registry at {settings.registry_url}" if settings.with_registry else "")
        + f" ({result.seconds:.1f} s)"
    )
    if settings.with_postgres:
        click.echo(f"PostgreSQL at {pg.url(settings)} (read-only role: {pg.READER})")
    if "api" in result.started + result.already_running:
        click.echo(f"Dashboard at {settings.api_url}/ (API description at {settings.api_url}/docs)")


@dev.command("fetch")
@home_only()
def dev_fetch(**given: Any) -> None:
    """Check Java and Maven, and resolve Kafka's jars into the local Maven repository.

    Example: python cli.py dev fetch
    """
    warn_ignored("fetch", given)
    classpath = stack.fetch(dev_settings({"home": given["home"]}))
    click.echo(f"Kafka's jars are ready ({len(classpath)} jars)")


@dev.command("down")
@home_only()
def dev_down(**given: Any) -> None:
    """Stop the registry and the broker gracefully (data is kept).

    Example: python cli.py dev down
    """
    warn_ignored("down", given)
    for line in stack.down(dev_settings({"home": given["home"]})):
        click.echo(line)


@dev.command("status")
@home_only()
def dev_status(**given: Any) -> None:
    """Show what runs, where, its pid, uptime, memory, and the topics.

    Example: python cli.py dev status
    """
    warn_ignored("status", given)
    settings = dev_settings({"home": given["home"]})
    report = stack.status(settings)
    for part in report.parts:
        line = f"{part.name:<9} {part.state:<14} {part.address}"
        if part.pid is not None:
            line += f"  pid {part.pid}  up {format_duration(part.uptime_s or 0)}"
            line += f"  rss {(part.rss_bytes or 0) / 2**20:.0f} MiB"
        click.echo(line)
    if report.topics:
        click.echo("topics: " + ", ".join(report.topics))
        for line in group_summary(settings.bootstrap):
            click.echo(line)
    for name in report.missing:
        click.echo(f"{name} is not running though the last `dev up` started it.")
    if any(part.state == "died" for part in report.parts):
        click.echo("A part died; see `python cli.py dev logs`.")
    if not report.healthy:
        click.echo("Start what is missing with `python cli.py dev up`.")
        sys.exit(1)
    exports = export_lines(report)
    if exports:
        click.echo("Commands run here use these addresses; elsewhere, or for other tools:")
        for line in exports:
            click.echo(f"  {line}")


def export_lines(report: stack.StackStatus) -> list[str]:
    """Shell lines that point other tools at the running parts."""
    names = {"kafka": "KAFKA_BOOTSTRAP_SERVERS", "registry": "SCHEMA_REGISTRY_URL"}
    names[pg.PART] = "AUDIT_STORE_URL"
    return [
        f"export {names[part.name]}={part.address}"
        for part in report.parts
        if part.state == "running" and part.name in names  # the API is no client setting
    ]


def group_summary(bootstrap: str) -> list[str]:
    """One line per consumer group of the running broker: how far behind it is."""
    admin = Admin({"bootstrap.servers": bootstrap}, timeout_s=5.0)
    try:
        found = group_lags(admin, None)
    except PipelineError as exc:
        return [f"consumer groups: unknown ({exc})"]
    if not found:
        return ["consumer groups: none yet"]
    lines = ["consumer groups (python cli.py groups --all for each partition):"]
    for group in sorted(found, key=lambda g: g.group):
        verdict = "up to date" if group.lag == 0 else f"{group.lag:,} behind"
        topics = ", ".join(sorted({p.topic for p in group.partitions}))
        lines.append(f"  {group.group:<20} {verdict} on {topics} ({group.members} member(s))")
    return lines


@dev.command("logs")
@home_only()
@click.argument("part", type=click.Choice(stack.PARTS), default="kafka")
@click.option(
    "-n", "--lines", type=click.IntRange(1), default=50, show_default=True, help="How many."
)
def dev_logs(part: str, lines: int, **given: Any) -> None:
    """Show the last lines of a part's log.

    Example: python cli.py dev logs registry -n 20
    """
    warn_ignored("logs", given)
    click.echo(stack.logs(dev_settings({"home": given["home"]}), part, lines))


@dev.command("reset")
@home_only("--data-dir")
@click.option("--yes", is_flag=True, help="Confirm: wipe every topic, schema and PostgreSQL table.")
def dev_reset(yes: bool, **given: Any) -> None:
    """Stop the stack and wipe its data (Kafka's topics and schemas, PostgreSQL's data).

    Example: python cli.py dev reset --yes
    """
    if not yes:
        raise click.UsageError("this wipes every topic, schema and table; add --yes to confirm")
    warn_ignored("reset", given, kept=("data_dir",))
    home_and_data = {"home": given["home"], "data_dir": given["data_dir"]}
    for line in stack.reset(dev_settings(home_and_data)):
        click.echo(line)
