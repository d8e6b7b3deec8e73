"""`query ...`: read-only questions to the SQLite audit store, safe while it is written."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import click

from pipeline.cli.common import settings_of
from pipeline.cli.output import chosen_format, format_options, render
from pipeline.store import reports
from pipeline.store.readonly import open_reader


@click.group()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The audit store [data/audit.db, or AUDIT_DB].",
)
@click.option(
    "--store",
    "store_url",
    help="The audit store on PostgreSQL: a URL whose role only reads "
    "(postgresql://pipeline_reader@HOST:PORT/orders) [AUDIT_STORE_URL].",
)
@click.pass_context
def query(ctx: click.Context, db_path: Path | None, store_url: str | None) -> None:
    """Ask the audit store the storage service writes (read-only, safe while it writes).

    The store is a plain SQLite file (sqlite3 or Datasette open it too), or PostgreSQL
    with --store URL, read with a role that only reads.

    Example: python cli.py query stats
    """
    settings = settings_of(ctx)
    ctx.obj = store_url or db_path or settings.store_url or settings.db_path


@query.command("sql")
@click.argument("statement")
@format_options
@click.pass_obj
def query_sql(db_path: Path | str, statement: str, as_json: bool, as_csv: bool) -> None:
    """Run one SQL statement; any statement that would write is refused.

    Example: python cli.py query sql "SELECT status, count(*) FROM events GROUP BY 1"
    """
    fmt = chosen_format(as_json, as_csv)
    with closing(open_reader(db_path)) as db:
        click.echo(render([reports.sql(db, statement)], fmt))


@query.command("order")
@click.argument("order_id")
@format_options
@click.pass_obj
def query_order(db_path: Path | str, order_id: str, as_json: bool, as_csv: bool) -> None:
    """An order's timeline: each event with the schema version it was written with.

    Example: python cli.py query order 8cd9b722-2525-48fd-9d65-510c97ffb711
    """
    fmt = chosen_format(as_json, as_csv)
    with closing(open_reader(db_path)) as db:
        timeline = reports.order_timeline(db, order_id)
        current = reports.current_order(db, order_id)
    if fmt == "table" and current:
        click.echo(f"order {order_id}: {current['status']} (user {current['user_id']})")
    click.echo(render([timeline], fmt))


@query.command("stats")
@format_options
@click.pass_obj
def query_stats(db_path: Path | str, as_json: bool, as_csv: bool) -> None:
    """Counts by status, source and schema version, and events per minute.

    Example: python cli.py query stats --json
    """
    fmt = chosen_format(as_json, as_csv)
    with closing(open_reader(db_path)) as db:
        click.echo(render(reports.stats(db), fmt))
