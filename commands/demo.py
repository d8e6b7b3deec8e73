"""`demo`: the whole story on the embedded stack."""

from __future__ import annotations

import click

from commands.dev import dev_settings
from pipeline.devstack import roundtrip, stack


@click.command()
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
