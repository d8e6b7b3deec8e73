"""`dlq` lists the dead letters exactly; `dlq replay` hands chosen ones back to their service."""

from __future__ import annotations

import json
from typing import Any

import click

from pipeline.cli.common import require_reachable, settings_of
from pipeline.cli.types import count
from pipeline.dead_letters import Letter, Listing, list_letters, replay
from pipeline.errors import ConfigError

PAYLOAD_SHOWN = 64  # bytes of a payload shown by --show-payload


def filters(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--topic", help="The dead-letter topic [order-events.dlq]."),
            click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable)."),
            click.option("--service", "services", multiple=True, help="Only this service."),
        ]
    ):
        command = option(command)
    return command


@click.group(invoke_without_command=True)
@filters
@click.option("--limit", type=count(1), default=20, show_default=True, help="Show the last N.")
@click.option("--show-payload", is_flag=True, help="Each letter's bytes, escaped, truncated.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
@click.pass_context
def dlq(
    ctx: click.Context,
    topic: str | None,
    kinds: tuple[str, ...],
    services: tuple[str, ...],
    limit: int,
    show_payload: bool,
    as_json: bool,
) -> None:
    """What landed on the dead-letter topic and why, oldest first, counted exactly.

    Example: python cli.py dlq --kind corrupt-avro --service storage --show-payload
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_of(ctx).with_(dlq_topic=topic)
    require_reachable(settings)
    listing = list_letters(settings, settings.dlq_topic, kinds, services)
    shown = listing.matched[-limit:]
    if as_json:
        for letter in shown:
            click.echo(json.dumps(as_dict(letter, show_payload)))
        return
    click.echo(headline(listing, len(shown), kinds, services))
    for letter in shown:
        click.echo(describe(letter))
        if show_payload:
            click.echo(f"    payload: {payload(letter.value)}")


@dlq.command("replay")
@filters
@click.option("--offset", "offsets", type=count(0), multiple=True, help="This letter (#N).")
@click.option("--all", "every", is_flag=True, help="Every letter the filters leave.")
@click.option("--yes", is_flag=True, help="Send them; without it, only say what would be sent.")
@click.pass_context
def dlq_replay(
    ctx: click.Context,
    topic: str | None,
    kinds: tuple[str, ...],
    services: tuple[str, ...],
    offsets: tuple[int, ...],
    every: bool,
    yes: bool,
) -> None:
    """Hand chosen letters back to the service that dead-lettered them, and to it only.

    Each goes to <topic>.replay.<service>, which only that service reads (the others
    already handled the message), with a dlq.replayed header. Letters of kind oversized
    carry no body and are refused.

    Example: python cli.py dlq replay --kind handler-error --service storage --yes
    """
    if not (offsets or kinds or services or every):
        raise click.UsageError("choose letters: --offset N, --kind, --service, or --all")
    settings = settings_of(ctx).with_(dlq_topic=topic)
    require_reachable(settings)
    chosen = choose(list_letters(settings, settings.dlq_topic, kinds, services), offsets)
    if not chosen:
        click.echo("no dead letter matches: nothing to replay")
        return
    if not yes:
        click.echo(f"would replay {len(chosen)} letter(s); add --yes to send them:")
        for letter in chosen:
            click.echo(describe(letter))
        return
    sent = replay(settings, settings.dlq_topic, chosen)
    for target, number in sent.items():
        click.echo(f"replayed {number} letter(s) to {target}")


def choose(listing: Listing, offsets: tuple[int, ...]) -> list[Letter]:
    if not offsets:
        return listing.matched
    by_offset = {letter.offset: letter for letter in listing.matched}
    missing = [str(o) for o in offsets if o not in by_offset]
    if missing:
        raise ConfigError(
            f"no dead letter #{', #'.join(missing)} on {listing.topic} matches "
            "(python cli.py dlq lists them)"
        )
    return [by_offset[o] for o in sorted(set(offsets))]


def headline(
    listing: Listing, shown: int, kinds: tuple[str, ...], services: tuple[str, ...]
) -> str:
    total = f"{listing.total} dead letter{'s' if listing.total != 1 else ''} on {listing.topic}"
    chosen = [
        f"kind {', '.join(kinds)}" if kinds else "",
        f"service {', '.join(services)}" if services else "",
    ]
    about = " and ".join(c for c in chosen if c)
    line = total + (f"; {len(listing.matched)} of {about}" if about else "")
    if shown < len(listing.matched):
        line += f" (the last {shown} shown; --limit shows more)"
    return line


def describe(letter: Letter) -> str:
    h = letter.header
    origin = f"{h('dlq.topic')}[{h('dlq.partition')}]@{h('dlq.offset')}"
    size = "no body" if letter.value is None else f"{len(letter.value)} bytes"
    return (
        f"#{letter.offset} {letter.when} {letter.service} {letter.kind} from {origin}, "
        f"{size}: {letter.header('dlq.reason', '')}"
    )


def payload(value: bytes | None) -> str:
    """The bytes as an escaped literal, cut at PAYLOAD_SHOWN bytes."""
    if value is None:
        return "(none: the letter carries no body)"
    text = repr(value[:PAYLOAD_SHOWN])
    more = len(value) - PAYLOAD_SHOWN
    return text + (f" ... (+{more} bytes)" if more > 0 else "")


def as_dict(letter: Letter, show_payload: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "partition": letter.partition,
        "offset": letter.offset,
        "timestamp_ms": letter.timestamp_ms,
        "key": None if letter.key is None else letter.key.decode(errors="replace"),
        "size": None if letter.value is None else len(letter.value),
        "headers": {k: v.decode(errors="replace") for k, v in letter.headers},
    }
    if show_payload:
        data["payload_hex"] = None if letter.value is None else letter.value.hex()
    return data
