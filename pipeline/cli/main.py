"""Command line of the order pipeline: it parses, builds settings, calls `pipeline/`, prints.

Every error the pipeline raises as `PipelineError` becomes one line on stderr and exit 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipeline.cli import bench, demo, dev, events, query, registry, schema, stats
from pipeline.config import Settings, load_client_properties
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
        defaults=dev.local_stack_defaults(),
        bootstrap_servers=bootstrap_servers,
        registry_url=registry_url,
        client_properties=props,
    )


for command in (
    dev.dev,
    registry.registry,
    events.produce,
    events.consume,
    events.dlq,
    schema.schema,
    query.query,
    demo.demo,
    bench.bench,
    stats.stats,
):
    cli.add_command(command)


def main(prog_name: str = "order-pipeline") -> None:
    """The console script `order-pipeline`; `python cli.py` passes its own name."""
    cli(prog_name=prog_name)
