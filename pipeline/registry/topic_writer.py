"""Writing `_schemas`: one transaction per change, under a transactional id fixed per topic.

The fixed id makes Kafka the arbiter of who writes: a registry that starts on the topic
initialises the id and so fences the one before it, whose later writes (even one already
in flight) are refused. A change of several records lands whole or not at all.

A write whose outcome is unknown (Kafka went away during the commit) drops the producer;
the next `ensure()` initialises the id again, which makes the broker finish or abort that
transaction, so that reading the topic to its end then tells what was stored.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline.kafka import clients
from pipeline.registry.errors import NotWriter, StoreTimeout, StoreUnavailable

log = logging.getLogger(__name__)
WRITE_TIMEOUT_S = 10.0
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
Records = Sequence[tuple[bytes, bytes | None]]


def transactional_id(topic: str) -> str:
    return f"schema-registry-writer-{topic}"


class TopicWriter:
    def __init__(self, config: Mapping[str, Any], topic: str, timeout_s: float) -> None:
        self._config = {
            **config,
            "transactional.id": transactional_id(topic),
            "linger.ms": 0,
            # The topic is checked and created by the registry; never by a write.
            "allow.auto.create.topics": False,
            # A write resolves (delivered or failed) within its own timeout.
            "message.timeout.ms": int(WRITE_TIMEOUT_S * 1000),
            "transaction.timeout.ms": 30_000,
        }
        self._topic = topic
        self._timeout_s = timeout_s
        self._producer: Producer | None = None
        self._lock = threading.Lock()  # one transaction, or one initialisation, at a time
        self.fenced = False
        self.broken: str | None = "not started"  # why there is no usable producer

    @property
    def usable(self) -> bool:
        return self._producer is not None and not self.fenced

    def ensure(self, timeout_s: float | None = None) -> None:
        """A producer ready to write: initialised again if the last one was dropped."""
        with self._lock:
            self._ensure(self._timeout_s if timeout_s is None else timeout_s)

    def _ensure(self, timeout_s: float) -> None:
        if self.fenced:
            raise NotWriter(f"another registry instance writes to {self._topic}")
        if self._producer is not None:
            return
        producer = clients.producer(self._config)
        try:
            producer.init_transactions(timeout_s)
        except KafkaException as exc:
            producer.close()
            self.broken = f"cannot initialise its writer: {exc.args[0].str()}"
            raise StoreUnavailable(f"{self._topic}: {self.broken}") from exc
        self._producer, self.broken = producer, None
        log.info("writing %s as transactional id %s", self._topic, transactional_id(self._topic))

    def write(self, records: Records) -> int:
        """Commit the records as one transaction; the offset of the last one.

        StoreUnavailable when nothing was written; StoreTimeout when it is not known (the
        caller must read the topic to its end after `ensure()` before deciding anything)."""
        with self._lock:
            self._ensure(self._timeout_s)
            producer = self._producer
            assert producer is not None
            offsets: list[int] = []

            def delivered(err: KafkaError | None, message: Message) -> None:
                if err is None:
                    offsets.append(message.offset() or 0)

            try:
                producer.begin_transaction()
                for key, value in records:
                    producer.produce(
                        self._topic, key=key, value=value, partition=0, on_delivery=delivered
                    )
                producer.commit_transaction(WRITE_TIMEOUT_S)
            except (KafkaException, BufferError) as exc:
                raise self._failed(exc) from exc
            return max(offsets)

    def _failed(self, exc: KafkaException | BufferError) -> Exception:
        """Classify a failed transaction: aborted (nothing written), fenced, or unknown."""
        error = exc.args[0] if isinstance(exc, KafkaException) else None
        reason = error.str() if isinstance(error, KafkaError) else str(exc)
        if isinstance(error, KafkaError) and error.code() in FENCED:
            self.fenced = True
            self._drop(f"fenced: {reason}")
            log.warning("%s: another registry instance has taken over writing", self._topic)
            return NotWriter(f"another registry instance writes to {self._topic}")
        if isinstance(error, KafkaError) and error.txn_requires_abort() and self._abort():
            return StoreUnavailable(
                f"cannot write to {self._topic} ({reason}); nothing was written"
            )
        self._drop(reason)
        return StoreTimeout(
            f"writing to {self._topic} failed ({reason}); it may or may not have been "
            "stored: retry, and the registry answers from what the topic holds"
        )

    def _abort(self) -> bool:
        assert self._producer is not None
        try:
            self._producer.abort_transaction(WRITE_TIMEOUT_S)
            return True
        except KafkaException:
            return False

    def _drop(self, reason: str) -> None:
        """Forget the producer; in-flight data is purged, the broker settles its transaction."""
        producer, self._producer = self._producer, None
        self.broken = reason
        if producer is not None:
            producer.purge()
            # librdkafka goes on with a timed-out commit in the background, so close() cannot
            # abort it and warns so: expected here, the next initialisation settles it.
            with warnings.catch_warnings():  # this close only, not the whole process's
                warnings.filterwarnings(
                    "ignore", "Producer abort_transaction failed during close", RuntimeWarning
                )
                producer.close()

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._drop("closed")
