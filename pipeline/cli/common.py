"""What every command module shares: the settings built by the root group, logging."""

from __future__ import annotations

import logging

import click
from rich.console import Console
from rich.progress import Progress

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin

# How long a command waits for a broker that accepts connections to answer metadata.
METADATA_TIMEOUT_S = 5.0


def settings_of(ctx: click.Context) -> Settings:
    """The one Settings object the root group built from flags and environment."""
    settings: Settings = ctx.find_root().obj
    return settings


def require_reachable(settings: Settings) -> None:
    """Kafka accepts connections at the configured address, or one line within seconds."""
    clients.require_reachable(settings)


def require_topic(settings: Settings, topic: str, *, creatable: bool = True) -> None:
    """`topic` exists; a typo is refused instead of silently creating it and its .dlq."""
    if Admin.from_settings(settings, timeout_s=METADATA_TIMEOUT_S).partitions(topic) is None:
        create = f", or add --create to create it and {topic}.dlq" if creatable else ""
        raise ConfigError(
            f"topic {topic!r} does not exist on {settings.bootstrap_servers}: check the name "
            f"(python cli.py dev status lists the topics){create}"
        )


def progress_bar() -> Progress:
    """A transient progress bar on a terminal; nothing at all when output is piped (a
    disabled bar still printed an empty line). Its console never wraps lines itself:
    piped output was cut at 80 columns mid-sentence."""
    console = Console(soft_wrap=True)
    return Progress(console=console, transient=True, disable=not console.is_terminal)


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
