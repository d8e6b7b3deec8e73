"""A producer for a service's own output (alerts, dead letters) whose `flush()` returns only
once every message is stored, and raises otherwise: the consume loop then commits nothing
whose output was lost.

Some refusals are about the message itself, not the cluster: too large for the topic, or a
record the broker will never take. Retrying cannot help, and stopping would refuse it
again at every restart. A caller may pass `on_refused`: it is given such a message (at
`send()` when the client refuses it at once, or at `flush()` when the broker does) and may
send a replacement; a refusal it takes is not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients

FLUSH_TIMEOUT_S = 30.0
# Durable and in order; a few ms of linger batches a service's output cheaply.
OUTPUT_CONFIG = {"acks": "all", "enable.idempotence": True, "linger.ms": 5}
# Refusals that say the message itself can never be stored, whatever is retried.
MESSAGE_REFUSALS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
    }
)

Headers = list[tuple[str, str | bytes | None]]
# (the refusal, the key, value and headers that were refused) -> True if it was taken care of
OnRefused = Callable[[KafkaError, bytes | None, bytes | None, Headers], bool]
Sent = tuple[bytes | None, bytes | None, Headers]  # key, value, headers


class CheckedProducer:
    """Produces to one topic; the Kafka client is created on the first message."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        error: type[PipelineError],
        *,
        on_refused: OnRefused | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self._settings = settings
        self._error = error
        self._on_refused = on_refused
        self._config = dict(config or {})
        self._producer: Producer | None = None
        self._errors: list[str] = []
        self._refused: list[tuple[KafkaError, Sent]] = []

    def send(
        self, value: bytes | None, key: bytes | str | None, headers: Headers | None = None
    ) -> None:
        if self._producer is None:
            config = self._settings.kafka_config(**OUTPUT_CONFIG, **self._config)
            self._producer = clients.producer(config)
        raw_key = key.encode() if isinstance(key, str) else key
        sent = (raw_key, value, list(headers or []))
        try:
            self._producer.produce(
                self.topic,
                value=value,
                key=key,
                headers=headers,
                # What was sent, kept for `on_refused` (a delivery report's copy may lack it).
                on_delivery=lambda error, _message: self._delivered(error, sent),
            )
        except KafkaException as exc:  # refused by the client before it was queued
            kafka_error = exc.args[0]
            if not self._taken_care_of(kafka_error, *sent):
                raise self._error(f"cannot write to {self.topic}: {kafka_error.str()}") from exc
        self._producer.poll(0)

    def flush(self) -> None:
        if self._producer is None:
            return
        left = self._producer.flush(FLUSH_TIMEOUT_S)
        if self._refused and not left:  # replacements are sent, then flushed in turn
            refused, self._refused = self._refused, []
            for kafka_error, sent in refused:
                if not self._taken_care_of(kafka_error, *sent):
                    self._errors.append(kafka_error.str())
            left = self._producer.flush(FLUSH_TIMEOUT_S)
        errors, self._errors = self._errors, []
        errors += [e.str() for e, _ in self._refused]  # refused again: give up
        self._refused = []
        if left or errors:
            detail = errors[0] if errors else f"{left} not delivered in {FLUSH_TIMEOUT_S:.0f} s"
            raise self._error(f"cannot write to {self.topic}: {detail}")

    def close(self) -> None:
        if self._producer is not None:
            clients.close_producer(self._producer, FLUSH_TIMEOUT_S)
            self._producer = None

    def _taken_care_of(
        self,
        error: KafkaError,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
    ) -> bool:
        if self._on_refused is None or error.code() not in MESSAGE_REFUSALS:
            return False
        return self._on_refused(error, key, value, headers)

    def _delivered(self, error: KafkaError | None, sent: Sent) -> None:
        if error is None:
            return
        if self._on_refused is not None and error.code() in MESSAGE_REFUSALS:
            self._refused.append((error, sent))
        else:
            self._errors.append(error.str())
