"""Kafka clients built from settings; a configuration librdkafka refuses (a misspelt property
in `--client-properties`, say) becomes one `ConfigError` line instead of a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from pipeline.config import Settings
from pipeline.errors import ConfigError

# librdkafka prefetches up to 64 MiB by default; on a backlog that is most of a service's
# memory. 4 MiB (~30,000 events) keeps any service busy for seconds and cut the storage
# service's peak by ~65 MiB (`python cli.py bench`).
PREFETCH = {"queued.max.messages.kbytes": 4096, "queued.min.messages": 5000}


def consumer_config(settings: Settings, group_id: str, **extra: Any) -> dict[str, Any]:
    """The pipeline's consumers: no auto-commit (offsets follow durable work), from the
    earliest offset, read committed (what an aborted or open transaction wrote is never
    seen), a bounded prefetch that the user's client properties may tune."""
    own = settings.kafka_config(
        **{
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            **extra,
        }
    )
    return {**PREFETCH, **own}


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


def silent_logger() -> logging.Logger:
    """A logger that drops librdkafka's lines (for probes that expect refusals)."""
    logger = logging.getLogger("pipeline.kafka.silent")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger
