"""Printing tables of results as an aligned table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import click

from pipeline.store.reports import Table

FORMATS = ("table", "json", "csv")


def format_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--json / --csv flags (a table by default)."""
    command = click.option("--csv", "as_csv", is_flag=True, help="Output CSV.")(command)
    return click.option("--json", "as_json", is_flag=True, help="Output JSON.")(command)


def chosen_format(as_json: bool, as_csv: bool) -> str:
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    return "json" if as_json else "csv" if as_csv else "table"


def render(tables: Sequence[Table], fmt: str) -> str:
    if fmt == "json":
        if len(tables) == 1:
            return json.dumps(tables[0].as_dicts(), indent=2, default=str)
        return json.dumps({t.key or t.title: t.as_dicts() for t in tables}, indent=2, default=str)
    if fmt == "csv":
        return "\n".join(_csv(t) for t in tables).rstrip("\n")
    return "\n\n".join(_aligned(t, titled=len(tables) > 1) for t in tables)


def _csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def _aligned(table: Table, titled: bool) -> str:
    cells = [list(table.columns)] + [["" if v is None else str(v) for v in r] for r in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if not table.rows:
        lines.append("(no rows)")
    return "\n".join(([table.title] if titled else []) + lines)
