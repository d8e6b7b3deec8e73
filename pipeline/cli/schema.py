"""`schema ...`: schema evolution experiments against the registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pipeline import registry_client
from pipeline.cli.common import settings_of
from pipeline.cli.types import MAX_VERSION, count
from pipeline.schema_files import load_schema_file
from pipeline.schema_lab import subjects
from pipeline.schema_lab.diff import describe, diff
from pipeline.schema_lab.matrix import compatibility_matrix
from pipeline.schema_lab.reasons import explain


def subject_option(command: Any) -> Any:
    return click.option("--subject", help="Registry subject (default: the topic's value subject).")(
        command
    )


def default_subject(ctx: click.Context, subject: str | None) -> str:
    return subject or registry_client.value_subject(settings_of(ctx).topic)


def schema_text(path: Path) -> str:
    return load_schema_file(path)


@click.group()
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
    with registry_client.connected(settings_of(ctx)) as client:
        global_level = subjects.subject_level(client, None)
        infos = subjects.list_subjects(client, global_level)
    click.echo(f"global compatibility level: {global_level}")
    if not infos:
        click.echo("no subjects registered")
    for info in infos:
        pairs = ", ".join(f"v{v} (id {i})" for v, i in zip(info.versions, info.ids, strict=True))
        click.echo(f"{info.subject}  [{info.level}]  {pairs}")


@schema.command("show")
@click.argument("subject")
@click.option("--version", type=count(1, MAX_VERSION), help="A version (default: the latest).")
@click.pass_context
def schema_show(ctx: click.Context, subject: str, version: int | None) -> None:
    """Print a registered schema with its id and version.

    Example: python cli.py schema show order-events-value --version 1
    """
    with registry_client.connected(settings_of(ctx)) as client:
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
    subject = default_subject(ctx, subject)
    text = schema_text(file)
    with registry_client.connected(settings_of(ctx)) as client:
        try:
            found = subjects.register(client, subject, text)
        except subjects.SchemaRefused as exc:
            raise click.ClickException(f"{file.name} {exc}") from exc
    if found.already:
        click.echo(
            f"{file.name} is already registered in {subject} as version {found.version} "
            f"(id {found.schema_id}): nothing changed"
        )
        return
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
    subject = default_subject(ctx, subject)
    text = schema_text(file)
    if level is not None:
        subjects.parse_level(level)
    with registry_client.connected(settings_of(ctx)) as client:
        result = subjects.check_compatibility(client, subject, text, level)
    verdict = "accepted" if result.compatible else "refused"
    note = f" ({result.note})" if result.note else ""
    click.echo(f"{file.name} in {subject} at {result.level}: {verdict}{note}")
    for reason in explain(result.reasons, new_schema=json.loads(text)):
        click.echo(f"  - {reason}")
    if not result.compatible:
        sys.exit(1)


@schema.command("config")
@click.argument("level", required=False)
@click.option("--subject", help="A subject's own level (default: the global level).")
@click.option("--create", is_flag=True, help="Set the level of a subject with no schema yet.")
@click.pass_context
def schema_config(ctx: click.Context, level: str | None, subject: str | None, create: bool) -> None:
    """Read, or set, the compatibility level (global, or of one subject).

    Example: python cli.py schema config --subject order-events-value FULL
    """
    with registry_client.connected(settings_of(ctx)) as client:
        if level is not None:
            now = subjects.set_level(client, subject, level, create=create)
            click.echo(f"{subject or 'global'}: {now} (set)")
        elif subject is None:
            click.echo(f"global: {subjects.subject_level(client, None)}")
        else:
            found = subjects.level_in_force(client, subject)
            how = "inherited from the global level" if found.inherited else "its own"
            click.echo(f"{subject}: {found.level} ({how})")


@schema.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
def schema_diff(old: Path, new: Path) -> None:
    """What changed between two schema files, in words.

    Example: python cli.py schema diff schemas/order_event.v1.avsc schemas/order_event.v2.avsc
    """
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
    new_schema = json.loads(schema_text(new))
    matrix = compatibility_matrix(json.loads(schema_text(old)), new_schema)
    click.echo(f"old = {old.name}, new = {new.name}")
    click.echo(f"evidence: {matrix.backward.text()}")
    click.echo(f"evidence: {matrix.forward.text()}")
    for row in matrix.rows:
        verdict = "accepted" if row.accepted else "REFUSED"
        needs = " + ".join(
            "new reads old" if e is matrix.backward else "old reads new" for e in row.evidence
        )
        click.echo(f"{row.level.value:<20} {verdict:<9} {needs or 'no check'}")
        for reason in explain(row.reasons, new_schema=new_schema, old_label="the old schema"):
            click.echo(f"{'':<20}   - {reason}")


@schema.command("delete")
@click.argument("subject")
@click.option("--version", type=count(1, MAX_VERSION), help="One version (default: the subject).")
@click.option("--permanent", is_flag=True, help="Hard delete (only after a soft delete).")
@click.pass_context
def schema_delete(ctx: click.Context, subject: str, version: int | None, permanent: bool) -> None:
    """Delete a subject or one version (soft by default, as Confluent's registry does).

    Example: python cli.py schema delete order-events-value --version 3
    """
    with registry_client.connected(settings_of(ctx)) as client:
        gone = subjects.delete(client, subject, version, permanent)
    how = "permanently deleted" if permanent else "soft-deleted"
    click.echo(f"{subject}: {how} version(s) {', '.join(map(str, gone))}")
