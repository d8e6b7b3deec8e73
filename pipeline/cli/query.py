"""`query ...`: read-only questions to the SQLite audit store, safe while it is written."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import click

from pipeline.cli.common import settings_of
from pipeline.cli.output import chosen_format, format_options, render
from pipeline.cli.types import count, number
from pipeline.store import reports
from pipeline.store.readonly import TIMEOUT_S, open_read_only

DEFAULT_LIMIT = 1000


@click.group()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The audit store [data/audit.db, or AUDIT_DB].",
)
@click.pass_context
def query(ctx: click.Context, db_path: Path | None) -> None:
    """Ask the audit store the storage service writes (read-only; WAL makes it safe).

    The store is a plain SQLite file: sqlite3 or Datasette open it too.

    Example: python cli.py query stats
    """
    ctx.obj = db_path or settings_of(ctx).db_path


@query.command("sql")
@click.argument("statement")
@click.option(
    "--limit",
    type=count(1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Rows shown at most (the output says when more were left out).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=number(0.1, 3600),
    default=TIMEOUT_S,
    show_default=True,
    help="Seconds before the statement is stopped.",
)
@format_options
@click.pass_obj
def query_sql(
    db_path: Path, statement: str, limit: int, timeout_s: float, as_json: bool, as_csv: bool
) -> None:
    """Run one SQL statement that reads; anything that would write, ATTACH a file or change
    a setting is refused before it runs.

    Example: python cli.py query sql "SELECT status, count(*) FROM events GROUP BY 1"
    """
    fmt = chosen_format(as_json, as_csv)
    with closing(open_read_only(db_path)) as db:
        table = reports.sql(db, statement, limit=limit, timeout_s=timeout_s)
    click.echo(render([table], fmt))
    if table.more:
        # On stderr for JSON and CSV, so that their output stays machine-readable.
        note = f"(first {limit} rows shown: the --limit; raise it to see more)"
        click.echo(note, err=fmt != "table")


@query.command("order")
@click.argument("order_id")
@format_options
@click.pass_obj
def query_order(db_path: Path, order_id: str, as_json: bool, as_csv: bool) -> None:
    """An order's timeline: each event with the schema version it was written with.

    Example: python cli.py query order 8cd9b722-2525-48fd-9d65-510c97ffb711
    """
    fmt = chosen_format(as_json, as_csv)
    with closing(open_read_only(db_path)) as db:
        timeline = reports.order_timeline(db, order_id)
        current = reports.current_order(db, order_id)
    if fmt == "table" and current:
        click.echo(f"order {order_id}: {current['status']} (user {current['user_id']})")
    click.echo(render([timeline], fmt))


@query.command("stats")
@click.option(
    "--table",
    "chosen",
    type=click.Choice(reports.STATS_TABLES),
    multiple=True,
    help="Only this table (repeatable); --csv writes exactly one.",
)
@format_options
@click.pass_obj
def query_stats(db_path: Path, chosen: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Counts by status, source and schema version, and events per minute.

    JSON keys are the table names (by_status, by_source, by_schema_version, per_minute).

    Example: python cli.py query stats --table by_status --csv
    """
    fmt = chosen_format(as_json, as_csv)
    if fmt == "csv" and len(chosen) != 1:
        # Several tables in one CSV cannot be read back; kept for this release only.
        click.echo(
            "warning: --csv without one --table writes several tables in one CSV; the next "
            f"release will need --table (one of {', '.join(reports.STATS_TABLES)})",
            err=True,
        )
    with closing(open_read_only(db_path)) as db:
        tables = [t for t in reports.stats(db) if not chosen or t.key in chosen]
    click.echo(render(tables, fmt))
