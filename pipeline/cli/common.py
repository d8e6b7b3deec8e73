"""What every command module shares: the settings built by the root group."""

from __future__ import annotations

import click

from pipeline.config import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The one Settings object the root group built from flags and environment."""
    settings: Settings = ctx.find_root().obj
    return settings


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
