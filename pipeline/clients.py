"""Kafka clients built from settings; a configuration librdkafka refuses (a misspelt property
in `--client-properties`, say) becomes one `ConfigError` line instead of a traceback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from pipeline.errors import ConfigError


def consumer(config: Mapping[str, Any]) -> Consumer:
    return _build(Consumer, config)


def producer(config: Mapping[str, Any]) -> Producer:
    return _build(Producer, config)


def admin(config: Mapping[str, Any]) -> AdminClient:
    return _build(AdminClient, config)


def _build(kind: Any, config: Mapping[str, Any]) -> Any:
    try:
        return kind(dict(config))
    except KafkaException as exc:
        raise ConfigError(f"Kafka client configuration refused: {exc.args[0].str()}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Kafka client configuration refused: {exc}") from exc


def close_producer(producer: Producer, timeout_s: float) -> int:
    """Flush within `timeout_s`, drop what is left, close; returns how many were dropped."""
    left = producer.flush(timeout_s)
    if left:
        producer.purge()
        producer.flush(1.0)
    producer.close()
    return int(left)
