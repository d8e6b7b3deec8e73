"""Command line of the order pipeline: it parses, builds settings, calls `pipeline/`, prints.

Whatever a user types, a mistake is one line on stderr, never a traceback: a usage error
(a bad option or argument) exits 2 and names the command's --help; a `PipelineError` (bad
file, refused request, unreachable server) exits 1. Anything else is a defect of ours: it
still prints one line (exit 1) and `-v` shows its traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from pipeline.cli import api, bench, demo, dev, dlq, events, groups, query, registry, schema, stats
from pipeline.cli.common import show_logs
from pipeline.config import Settings, load_client_properties
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)


class OneLineUsageError(click.ClickException):
    """A usage error as one line that says where help is (click prints four)."""

    exit_code = 2

    def __init__(self, error: click.UsageError) -> None:
        where = error.ctx.command_path if error.ctx else "cli.py"
        runs = f"python {where}" if where.split()[0].endswith(".py") else where
        super().__init__(f"{error.format_message()} (see: {runs} --help)")


class Cli(click.Group):
    """A group that turns every error into one clean line instead of a traceback."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise OneLineUsageError(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise OneLineUsageError(exc) from exc
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a defect of ours: still one line, details with -v
            log.debug("unexpected error", exc_info=exc)
            raise click.ClickException(
                f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
                "(run with -v for the traceback, and please report it)"
            ) from exc


def one_line(text: str) -> str:
    return " ".join(text.split())


@click.group(cls=Cli, name="cli.py")
@click.option("--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka brokers.")
@click.option("--registry-url", envvar="SCHEMA_REGISTRY_URL", help="Schema registry URL.")
@click.option(
    "--client-properties",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KAFKA_CLIENT_PROPERTIES",
    help="A key=value file of extra librdkafka properties (SASL/SSL).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the pipeline's and librdkafka's log on stderr (and tracebacks of defects).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    bootstrap_servers: str | None,
    registry_url: str | None,
    client_properties: Path | None,
    verbose: bool,
) -> None:
    """A schema-governed, event-driven order pipeline on Apache Kafka.

    Example: python cli.py dev up && python cli.py produce --count 1000
    """
    show_logs(verbose)
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
    dlq.dlq,
    groups.groups,
    schema.schema,
    query.query,
    demo.demo,
    bench.bench,
    api.api,
    stats.stats,
):
    cli.add_command(command)


def main(prog_name: str = "order-pipeline") -> None:
    """The console script `order-pipeline`; `python cli.py` passes its own name."""
    cli(prog_name=prog_name)
