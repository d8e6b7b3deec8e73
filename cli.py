"""Command line of the order pipeline: it parses, builds settings, calls `pipeline/`, prints.

Every error the pipeline raises as `PipelineError` becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.config import Settings, load_client_properties
from pipeline.devstack import roundtrip, stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import PipelineError


class Cli(click.Group):
    """A group that turns pipeline errors into one clean line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=Cli)
@click.option("--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka brokers.")
@click.option("--registry-url", envvar="SCHEMA_REGISTRY_URL", help="Schema registry URL.")
@click.option(
    "--client-properties",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KAFKA_CLIENT_PROPERTIES",
    help="A key=value file of extra librdkafka properties (SASL/SSL).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    bootstrap_servers: str | None,
    registry_url: str | None,
    client_properties: Path | None,
) -> None:
    """A schema-governed, event-driven order pipeline on Apache Kafka.

    Example: python cli.py dev up && python cli.py produce --count 1000
    """
    props = load_client_properties(client_properties) if client_properties else None
    ctx.obj = Settings.from_env(
        bootstrap_servers=bootstrap_servers,
        registry_url=registry_url,
        client_properties=props,
    )


def settings_of(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


# --- dev: the local Kafka broker and registry -------------------------------------------


def dev_options(command: Any) -> Any:
    """Where the local stack lives and listens; `dev status/down/logs` reuse the last `up`'s."""
    options = [
        click.option(
            "--home", type=click.Path(file_okay=False, path_type=Path), help="State folder."
        ),
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path)),
        click.option("--kafka-port", type=click.IntRange(1, 65535)),
        click.option("--controller-port", type=click.IntRange(1, 65535)),
        click.option("--registry-port", type=click.IntRange(1, 65535)),
        click.option("--heap", help="Broker JVM maximum heap, e.g. 512m or 1g."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def dev_settings(given: dict[str, Any]) -> DevStackSettings:
    """Defaults, then what the last `dev up` in this home used, then the flags given now."""
    base = stack.remembered(DevStackSettings(home=given.pop("home") or DevStackSettings().home))
    return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


@cli.group()
def dev() -> None:
    """The local Apache Kafka broker (KRaft) and schema registry, without Docker.

    Example: python cli.py dev up && python cli.py dev status
    """


@dev.command("up")
@dev_options
@click.option("--no-registry", is_flag=True, help="Start only the Kafka broker.")
def dev_up(no_registry: bool, **given: Any) -> None:
    """Start Kafka (and the registry); return once they answer.

    Example: python cli.py dev up --kafka-port 19092
    """
    settings = dev_settings(given)
    settings = dataclasses.replace(settings, with_registry=not no_registry)
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


@dev.command("fetch")
@dev_options
def dev_fetch(**given: Any) -> None:
    """Check Java and Maven, and resolve Kafka's jars into the local Maven repository.

    Example: python cli.py dev fetch
    """
    classpath = stack.fetch(dev_settings(given))
    click.echo(f"Kafka's jars are ready ({len(classpath)} jars)")


@dev.command("down")
@dev_options
def dev_down(**given: Any) -> None:
    """Stop the registry and the broker gracefully (data is kept).

    Example: python cli.py dev down
    """
    for line in stack.down(dev_settings(given)):
        click.echo(line)


@dev.command("status")
@dev_options
def dev_status(**given: Any) -> None:
    """Show what runs, where, its pid, uptime, memory, and the topics.

    Example: python cli.py dev status
    """
    report = stack.status(dev_settings(given))
    for part in report.parts:
        line = f"{part.name:<9} {part.state:<14} {part.address}"
        if part.pid is not None:
            line += f"  pid {part.pid}  up {format_duration(part.uptime_s or 0)}"
            line += f"  rss {(part.rss_bytes or 0) / 2**20:.0f} MiB"
        click.echo(line)
    if report.topics:
        click.echo("topics: " + ", ".join(report.topics))
    if any(part.state == "died" for part in report.parts):
        click.echo("A part died; see `python cli.py dev logs`, then `python cli.py dev up`.")
    if any(part.state in ("died", "not answering") for part in report.parts):
        sys.exit(1)


@dev.command("logs")
@dev_options
@click.argument("part", type=click.Choice(stack.PARTS), default="kafka")
@click.option("-n", "--lines", type=click.IntRange(1), default=50, show_default=True)
def dev_logs(part: str, lines: int, **given: Any) -> None:
    """Show the last lines of a part's log.

    Example: python cli.py dev logs registry -n 20
    """
    click.echo(stack.logs(dev_settings(given), part, lines))


@dev.command("reset")
@dev_options
@click.option("--yes", is_flag=True, help="Confirm: wipe every topic and registered schema.")
def dev_reset(yes: bool, **given: Any) -> None:
    """Stop the stack and wipe its data.

    Example: python cli.py dev reset --yes
    """
    if not yes:
        raise click.UsageError("this wipes every topic and schema; add --yes to confirm")
    for line in stack.reset(dev_settings(given)):
        click.echo(line)


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


# --- registry: the Confluent-compatible schema registry server ---------------------------


@cli.group()
def registry() -> None:
    """The schema registry: Confluent's REST API, its state in Kafka's _schemas topic."""


@registry.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True)
@click.option("--topic", default="_schemas", show_default=True, help="Kafka topic of the state.")
@click.option(
    "--basic-auth-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="user:password lines; else SCHEMA_REGISTRY_BASIC_AUTH_USERS=u:p,u2:p2; else no auth.",
)
@click.pass_context
def registry_serve(
    ctx: click.Context, host: str, port: int, topic: str, basic_auth_file: Path | None
) -> None:
    """Serve the registry until Ctrl-C or SIGTERM.

    Example: python cli.py --bootstrap-servers localhost:9092 registry serve --port 8081
    """
    from pipeline.registry.run import serve

    summary = serve(
        settings_of(ctx),
        host=host,
        port=port,
        topic=topic,
        basic_auth_file=basic_auth_file,
        on_started=lambda url: click.echo(f"schema registry listening on {url} (topic {topic})"),
    )
    click.echo(
        f"schema registry stopped after {format_duration(summary.seconds)}: "
        f"{summary.subjects} subjects, {summary.schemas} schema ids"
    )


# --- produce / consume / dlq: the pipeline ------------------------------------------------


# Seeded runs start their simulated clock here, so the same seed gives the same bytes.
SEEDED_START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@cli.command()
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
) -> None:
    """Send realistic order lifecycles, Avro-encoded with a registered schema.

    The schema must already be registered under the topic's value subject
    (python cli.py schema register FILE); nothing is sent otherwise.

    Example: python cli.py produce --count 10000 --rate 2000 --seed 42
    """
    from rich.progress import Progress

    from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions
    from pipeline.producer import produce as run_produce

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
    )
    with Progress(transient=True) as bar:
        task = bar.add_task(f"producing to {settings.topic}", total=limit)
        summary = run_produce(settings, options, lambda s: bar.update(task, completed=s.produced))
    for line in summary.describe():
        click.echo(line)
    if summary.failed or summary.delivered < summary.produced:
        sys.exit(1)


@cli.command()
@click.argument("service", type=click.Choice(["order-processor", "analytics", "storage"]))
@click.option("--group", help="Consumer group [the service's name].")
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
    as_json: bool,
    interval: float,
) -> None:
    """Run a service on the order topic until Ctrl-C (or a limit); commits what it finished.

    A second instance with the same group shares the partitions.

    Example: python cli.py consume analytics --json --idle-timeout 10
    """
    from pipeline.services.runner import Runner, RunOptions, make_service
    from pipeline.services.views import ConsumeView, detail

    settings = settings_of(ctx).with_(topic=topic, db_path=db_path)
    worker = make_service(service, settings)
    options = RunOptions(
        group_id=group, batch_size=batch_size, max_events=max_events, idle_timeout_s=idle_timeout
    )
    with ConsumeView(worker, as_json=as_json, interval_s=interval) as view:
        runner = Runner(settings, worker, options, on_tick=view.tick)
        summary = runner.run()
    view.final(summary)
    if not as_json:
        click.echo(summary.describe())
        click.echo(detail(worker))


@cli.command()
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
    import json

    from pipeline.dlq import read_dead_letters

    settings = settings_of(ctx).with_(dlq_topic=topic)
    records = read_dead_letters(settings, limit)
    if as_json:
        for record in records:
            click.echo(json.dumps(record.to_dict()))
        return
    click.echo(f"{len(records)} dead letter(s) on {settings.dlq_topic} (last {limit} shown)")
    for record in records:
        click.echo(record.describe())


# --- schema: evolution experiments against the registry ----------------------------------


def subject_option(command: Any) -> Any:
    return click.option("--subject", help="Registry subject (default: the topic's value subject).")(
        command
    )


def default_subject(ctx: click.Context, subject: str | None) -> str:
    return subject or f"{settings_of(ctx).topic}-value"


def schema_text(path: Path) -> str:
    from pipeline.serde import load_schema_file

    return load_schema_file(path)


@cli.group()
def schema() -> None:
    """Register, check and compare schema versions in the registry.

    Example: python cli.py schema check schemas/order_event.v3.avsc --level FORWARD
    """


@schema.command("list")
@click.pass_context
def schema_list(ctx: click.Context) -> None:
    """Subjects with their versions, ids and compatibility level.

    Example: python cli.py schema list
    """
    from pipeline.evolution import subjects

    with subjects.connected(settings_of(ctx)) as client:
        infos = subjects.list_subjects(client)
        global_level = subjects.subject_level(client, None)
    click.echo(f"global compatibility level: {global_level}")
    if not infos:
        click.echo("no subjects registered")
    for info in infos:
        pairs = ", ".join(f"v{v} (id {i})" for v, i in zip(info.versions, info.ids, strict=True))
        click.echo(f"{info.subject}  [{info.level}]  {pairs}")


@schema.command("show")
@click.argument("subject")
@click.option("--version", type=click.IntRange(1), help="A version (default: the latest).")
@click.pass_context
def schema_show(ctx: click.Context, subject: str, version: int | None) -> None:
    """Print a registered schema with its id and version.

    Example: python cli.py schema show order-events-value --version 1
    """
    from pipeline.evolution import subjects

    with subjects.connected(settings_of(ctx)) as client:
        found = subjects.show(client, subject, version)
    click.echo(f"subject {found.subject} version {found.version} id {found.schema_id}")
    click.echo(json.dumps(json.loads(found.schema.schema_str or "{}"), indent=2))


@schema.command("register")
@click.argument("file", type=click.Path(path_type=Path))
@subject_option
@click.pass_context
def schema_register(ctx: click.Context, file: Path, subject: str | None) -> None:
    """Register a schema file under a subject (its compatibility level applies).

    Example: python cli.py schema register schemas/order_event.v2.avsc
    """
    from pipeline.evolution import subjects

    subject = default_subject(ctx, subject)
    text = schema_text(file)
    with subjects.connected(settings_of(ctx)) as client:
        found = subjects.register(client, subject, text)
    click.echo(
        f"registered {file.name} in {subject}: id {found.schema_id}, version {found.version}"
    )


@schema.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@subject_option
@click.option("--level", help="Check at this level instead of the subject's own.")
@click.pass_context
def schema_check(ctx: click.Context, file: Path, subject: str | None, level: str | None) -> None:
    """A dry run: would the subject accept this schema, and if not, why not.

    Exits 0 if it would be accepted, 1 if not.

    Example: python cli.py schema check schemas/order_event.breaking.avsc
    """
    from pipeline.evolution import subjects

    subject = default_subject(ctx, subject)
    text = schema_text(file)
    if level is not None:
        subjects.parse_level(level)
    with subjects.connected(settings_of(ctx)) as client:
        result = subjects.check_compatibility(client, settings_of(ctx), subject, text, level)
    verdict = "accepted" if result.compatible else "refused"
    note = f" ({result.note})" if result.note else ""
    click.echo(f"{file.name} in {subject} at {result.level}: {verdict}{note}")
    for reason in result.reasons:
        click.echo(f"  - {reason}")
    if not result.compatible:
        sys.exit(1)


@schema.command("config")
@click.argument("level", required=False)
@click.option("--subject", help="A subject's own level (default: the global level).")
@click.pass_context
def schema_config(ctx: click.Context, level: str | None, subject: str | None) -> None:
    """Read, or set, the compatibility level.

    Example: python cli.py schema config --subject order-events-value FULL
    """
    from pipeline.evolution import subjects

    with subjects.connected(settings_of(ctx)) as client:
        now = subjects.get_or_set_level(client, subject, level)
    where = subject or "global"
    click.echo(f"{where}: {now}" + (" (set)" if level else ""))


@schema.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
def schema_diff(old: Path, new: Path) -> None:
    """What changed between two schema files, in words.

    Example: python cli.py schema diff schemas/order_event.v1.avsc schemas/order_event.v2.avsc
    """
    from pipeline.evolution.diff import describe, diff

    for line in describe(diff(json.loads(schema_text(old)), json.loads(schema_text(new)))):
        click.echo(f"- {line}")


@schema.command("matrix")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
def schema_matrix(old: Path, new: Path) -> None:
    """The seven compatibility levels for one pair, with evidence from real records.

    Records written with each schema are decoded with the other, so the table shows what
    really happens to data in each direction.

    Example: python cli.py schema matrix schemas/order_event.v2.avsc schemas/order_event.v3.avsc
    """
    from pipeline.evolution.matrix import compatibility_matrix

    matrix = compatibility_matrix(json.loads(schema_text(old)), json.loads(schema_text(new)))
    click.echo(f"old = {old.name}, new = {new.name}")
    click.echo(f"evidence: {matrix.backward.text()}")
    click.echo(f"evidence: {matrix.forward.text()}")
    for row in matrix.rows:
        verdict = "accepted" if row.accepted else "REFUSED"
        needs = " + ".join(
            "new reads old" if e is matrix.backward else "old reads new" for e in row.evidence
        )
        click.echo(f"{row.level.value:<20} {verdict:<9} {needs or 'no check'}")
        for reason in row.reasons:
            click.echo(f"{'':<20}   - {reason}")


@schema.command("delete")
@click.argument("subject")
@click.option("--version", type=click.IntRange(1), help="One version (default: the subject).")
@click.option("--permanent", is_flag=True, help="Hard delete (only after a soft delete).")
@click.pass_context
def schema_delete(ctx: click.Context, subject: str, version: int | None, permanent: bool) -> None:
    """Delete a subject or one version (soft by default, as Confluent's registry does).

    Example: python cli.py schema delete order-events-value --version 3
    """
    from pipeline.evolution import subjects

    with subjects.connected(settings_of(ctx)) as client:
        gone = subjects.delete(client, subject, version, permanent)
    how = "permanently deleted" if permanent else "soft-deleted"
    click.echo(f"{subject}: {how} version(s) {', '.join(map(str, gone))}")


# --- demo: the whole story on the embedded stack -----------------------------------------


@cli.command()
def demo() -> None:
    """Bring the local stack up and show the pipeline at work.

    Example: python cli.py demo
    """
    settings = dev_settings({"home": None})
    click.echo("1. Starting the local stack (Kafka in KRaft mode, schema registry) ...")
    result = stack.up(settings)
    click.echo(f"   up in {result.seconds:.1f} s: Kafka at {settings.bootstrap}")
    seconds = roundtrip.round_trip(settings.bootstrap)
    click.echo(f"2. Round trip: a message produced and read back in {seconds * 1000:.0f} ms")
    click.echo("The stack keeps running; stop it with: python cli.py dev down")


def main() -> None:
    cli(prog_name="cli.py")


if __name__ == "__main__":
    main()
