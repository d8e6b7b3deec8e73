"""One bad event must not stop a service: find it, dead-letter it, do the rest of the batch.

Two kinds of failure reach the consume loop from `service.handle(batch)`:

- systemic ones, about the service's surroundings (the store is locked or the disk full,
  the broker fenced the producer, the registry refused the service's own schema): every
  event would fail the same way, so the service stops without committing, and the batch is
  read again by whoever runs next. These are `PipelineError`s (the store, the outputs and
  the configuration raise those), Kafka's own errors, the operating system's and SQLite's.
- anything else is taken to be about an event (a value the code did not expect). The
  contract of `handle` says a batch that raised left nothing behind, so the batch is
  handled again one event at a time: those that fail alone are returned with their
  exception, to be dead-lettered as `handler-error`; the others are done.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaException

from pipeline.errors import PipelineError
from pipeline.model import Event, Refusal
from pipeline.services.base import Service

log = logging.getLogger(__name__)

SYSTEMIC: tuple[type[BaseException], ...] = (
    PipelineError,
    KafkaException,
    OSError,
    MemoryError,
    sqlite3.Error,
)
REASON_LIMIT = 1000  # characters of the exception text kept in the dead letter's reason


def is_systemic(exc: BaseException) -> bool:
    """True if `exc` is about the service's surroundings rather than one event.

    A service can mark an exception of its own either way with a `systemic` attribute."""
    marked = getattr(exc, "systemic", None)
    if isinstance(marked, bool):
        return marked
    return isinstance(exc, SYSTEMIC)


@dataclass
class Outcome:
    refusals: list[Refusal] = field(default_factory=list)
    failures: list[tuple[Event, Exception]] = field(default_factory=list)


def handle_isolating(service: Service, events: Sequence[Event]) -> Outcome:
    """`service.handle(events)`; if it fails for a reason that is not systemic, again event
    by event, so that only the events that fail on their own are set aside."""
    if not events:
        return Outcome()
    try:
        return Outcome(list(service.handle(events)))
    except Exception as exc:
        if is_systemic(exc):
            raise
        log.warning(
            "%s: %s in a batch of %d; handling it event by event",
            service.name,
            describe_failure(exc),
            len(events),
        )
    outcome = Outcome()
    for event in events:
        try:
            outcome.refusals.extend(service.handle([event]))
        except Exception as exc:
            if is_systemic(exc):
                raise
            outcome.failures.append((event, exc))
    return outcome


def describe_failure(exc: BaseException) -> str:
    """`KeyError: 'CANCELLED'`: the exception's type and text, bounded."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"
