"""A producer for a service's own output (alerts, dead letters) whose `flush()` returns only
once every message is stored, and raises otherwise: the consume loop then commits nothing
whose output was lost."""

from __future__ import annotations

from confluent_kafka import KafkaError, Message, Producer

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients

FLUSH_TIMEOUT_S = 30.0
# Durable and in order; a few ms of linger batches a service's output cheaply.
OUTPUT_CONFIG = {"acks": "all", "enable.idempotence": True, "linger.ms": 5}

Headers = list[tuple[str, str | bytes | None]]


class CheckedProducer:
    """Produces to one topic; the Kafka client is created on the first message."""

    def __init__(self, settings: Settings, topic: str, error: type[PipelineError]) -> None:
        self.topic = topic
        self._settings = settings
        self._error = error
        self._producer: Producer | None = None
        self._errors: list[str] = []

    def send(
        self, value: bytes | None, key: bytes | str | None, headers: Headers | None = None
    ) -> None:
        if self._producer is None:
            self._producer = clients.producer(self._settings.kafka_config(**OUTPUT_CONFIG))
        self._producer.produce(
            self.topic, value=value, key=key, headers=headers, on_delivery=self._delivered
        )
        self._producer.poll(0)

    def flush(self) -> None:
        if self._producer is None:
            return
        left = self._producer.flush(FLUSH_TIMEOUT_S)
        errors, self._errors = self._errors, []
        if left or errors:
            detail = errors[0] if errors else f"{left} not delivered in {FLUSH_TIMEOUT_S:.0f} s"
            raise self._error(f"cannot write to {self.topic}: {detail}")

    def close(self) -> None:
        if self._producer is not None:
            clients.close_producer(self._producer, FLUSH_TIMEOUT_S)
            self._producer = None

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._errors.append(error.str())
