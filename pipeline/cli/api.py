"""`api serve`: the HTTP API and the live dashboard."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pipeline.api.server import serve
from pipeline.api.settings import DEFAULT_PORT, ApiSettings, read_users
from pipeline.cli.common import format_duration, settings_of


@click.group()
def api() -> None:
    """The HTTP API (orders, store, schemas, groups, live stream) and the dashboard at /.

    `dev up` starts it for you on port 8000.

    Example: python cli.py api serve --port 8000
    """


@api.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The audit store (SQLite) [data/audit.db, or AUDIT_DB].",
)
@click.option(
    "--store",
    "store_url",
    help="The audit store on PostgreSQL: a URL whose role only reads "
    "(postgresql://pipeline_reader@HOST:PORT/orders) [AUDIT_STORE_URL].",
)
@click.option("--topic", help="The order topic [order-events]; T.dlq, T.alerts, T.stats.")
@click.option(
    "--basic-auth-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="user:password lines; else API_BASIC_AUTH_USERS=u:p,u2:p2; else no basic auth.",
)
@click.option(
    "--allow-open",
    is_flag=True,
    help="Serve a non-loopback address without authentication (API_TOKEN sets a token).",
)
@click.pass_context
def api_serve(
    ctx: click.Context,
    host: str,
    port: int,
    db: Path | None,
    store_url: str | None,
    topic: str | None,
    basic_auth_file: Path | None,
    allow_open: bool,
) -> None:
    """Serve the API and the dashboard until Ctrl-C or SIGTERM.

    Off loopback it needs API_TOKEN (a bearer token) or --basic-auth-file.

    Example: python cli.py api serve --port 8000
    """
    # Another topic has its own dead-letter, alerts and stats topics, as the services do.
    settings = settings_of(ctx).with_(db_path=db, store_url=store_url).reading(topic)
    settings_api = ApiSettings(
        host=host,
        port=port,
        token=os.environ.get("API_TOKEN") or None,
        users=read_users(basic_auth_file) or None,
        allow_open=allow_open,
    )
    summary = serve(
        settings,
        settings_api,
        on_started=lambda url: click.echo(f"API and dashboard at {url}/ (OpenAPI at {url}/docs)"),
    )
    click.echo(f"API stopped after {format_duration(summary.seconds)}")
