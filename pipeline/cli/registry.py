"""`registry serve`: the Confluent-compatible schema registry server."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.common import format_duration, settings_of
from pipeline.kafka import clients
from pipeline.registry.auth import load_users_file
from pipeline.registry.run import serve


@click.group()
def registry() -> None:
    """The schema registry: Confluent's REST API, its state in Kafka's _schemas topic.

    `dev up` starts it for you; serve it by hand to point it at another cluster.

    Example: python cli.py --bootstrap-servers localhost:9092 registry serve --port 8081
    """


@registry.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8081,
    show_default=True,
    help="Port to listen on (0: any free one).",
)
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
    settings = settings_of(ctx)
    if basic_auth_file is not None:
        load_users_file(basic_auth_file)  # a bad file is the first thing to say
    clients.require_reachable(settings)
    summary = serve(
        settings,
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
