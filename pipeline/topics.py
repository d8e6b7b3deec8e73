"""Create the pipeline's topics when they are missing, with sensible partition counts.

The order topic gets `settings.partitions` partitions (orders are keyed, so this caps how
many instances of a service can share the work); alerts are keyed by order too; the
dead-letter topic has one partition, so its listing reads in arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from pipeline import clients
from pipeline.config import Settings
from pipeline.errors import PipelineError

TIMEOUT_S = 15.0


class TopicError(PipelineError):
    pass


def pipeline_topics(settings: Settings) -> dict[str, int]:
    """Every topic the pipeline writes, with its partition count."""
    return {
        settings.topic: settings.partitions,
        settings.alerts_topic: settings.partitions,
        settings.dlq_topic: 1,
    }


def ensure_topics(settings: Settings, wanted: Mapping[str, int]) -> list[str]:
    """Create those of `wanted` (name → partitions) that do not exist; return the created."""
    # Level 2 keeps librdkafka's connection-refused lines (level 3) off the user's terminal:
    # an unreachable broker is reported once, below.
    admin = clients.admin(settings.kafka_config(log_level=2))
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
    except KafkaException as exc:
        reason = exc.args[0].str()
        raise TopicError(f"cannot reach Kafka at {settings.bootstrap_servers}: {reason}") from exc
    missing = [name for name in wanted if name not in metadata.topics]
    if not missing:
        return []
    # One replica per broker up to three: a laptop broker gets 1, a real cluster 3.
    replicas = max(1, min(3, len(metadata.brokers)))
    futures = admin.create_topics(
        [NewTopic(name, wanted[name], replicas) for name in missing],
        operation_timeout=TIMEOUT_S,
        request_timeout=TIMEOUT_S,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=TIMEOUT_S)
            created.append(name)
        except TimeoutError as exc:
            raise TopicError(f"creating topic {name} timed out after {TIMEOUT_S:.0f} s") from exc
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # lost a race: fine
                raise TopicError(f"cannot create topic {name}: {exc.args[0].str()}") from exc
    return created
