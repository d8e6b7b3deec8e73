"""What every command module shares: the settings built by the root group, logging."""

from __future__ import annotations

import logging

import click

from pipeline.config import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The one Settings object the root group built from flags and environment."""
    settings: Settings = ctx.find_root().obj
    return settings


def show_logs(verbose: bool) -> None:
    """With -v, the pipeline's log (librdkafka's lines included) goes to stderr. Without it
    nothing is added: the pipeline's warnings print as Python prints them, and librdkafka's
    lines go nowhere (its logger has a NullHandler)."""
    root = logging.getLogger("pipeline")
    for old in [h for h in root.handlers if getattr(h, "_from_cli", False)]:
        root.removeHandler(old)  # the CLI runs many times in one test process
    if not verbose:
        root.setLevel(logging.NOTSET)
        return
    handler = logging.StreamHandler()  # the current stderr
    handler._from_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
