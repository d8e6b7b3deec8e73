"""How a stateful service's batch commits: exactly-once or at-least-once.

Both keep the same changelog-backed state; they differ in how a batch's output (records,
changelog, dead letters) and its consumed offsets are made to count:

- exactly-once: one Kafka transaction per batch holds all of them; a read_committed reader
  sees a batch whole or not at all, and a redone batch replaces an aborted one.
- at-least-once: outputs are flushed (acknowledged) first, then the offsets committed on
  their own; after a crash in between, the batch's outputs may appear twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from enum import StrEnum

from confluent_kafka import Consumer, KafkaException, TopicPartition

from pipeline.config import Settings
from pipeline.kafka.transactions import OnDelivery, OutputProducer

log = logging.getLogger(__name__)
Headers = list[tuple[str, str | bytes | None]]


class Guarantee(StrEnum):
    EXACTLY_ONCE = "exactly-once"
    AT_LEAST_ONCE = "at-least-once"


class BatchOutput:
    """A batch's output and its commit; `Output` for the services and the state."""

    def __init__(self, producer: OutputProducer) -> None:
        self.producer = producer
        self.commit_failures = 0

    @property
    def exactly_once(self) -> bool:
        return self.producer.transactional_id is not None

    def start(self) -> None:
        self.producer.start()

    def begin(self) -> None:
        self.producer.begin()

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
        on_delivery: OnDelivery | None = None,
    ) -> None:
        self.producer.send(
            topic, value, key, partition=partition, headers=headers, on_delivery=on_delivery
        )

    def barrier(self) -> None:
        # In a transaction everything counts at once; otherwise wait for the acknowledgements.
        if not self.exactly_once:
            self.producer.flush()

    def commit(self, consumer: Consumer, offsets: Sequence[TopicPartition]) -> bool:
        """Make the batch count. Exactly-once raises `TransactionAborted` if it could not;
        at-least-once returns False when only the offset commit failed (a rebalance took
        the partitions: the new owner reads those offsets again)."""
        if self.exactly_once:
            self.producer.commit(offsets, consumer.consumer_group_metadata())
            return True
        self.producer.flush()
        if not offsets:
            return True
        try:
            consumer.commit(offsets=list(offsets), asynchronous=False)
        except KafkaException as exc:
            self.commit_failures += 1
            log.warning("offset commit failed: %s", exc.args[0].str())
            return False
        self.producer.committed += 1
        self.producer.last_commit_at = time.time()
        return True

    def abort(self, restart: bool = True) -> None:
        if self.exactly_once:
            self.producer.abort(restart)

    def close(self) -> None:
        self.producer.close()


def batch_output(
    settings: Settings,
    guarantee: Guarantee,
    transactional_id: str,
    message_max_bytes: int | None = None,
    batch_max_bytes: int | None = None,
) -> BatchOutput:
    chosen = transactional_id if guarantee is Guarantee.EXACTLY_ONCE else None
    producer = OutputProducer(
        settings, chosen, message_max_bytes=message_max_bytes, batch_max_bytes=batch_max_bytes
    )
    return BatchOutput(producer)
