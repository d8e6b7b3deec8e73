"""Reading outputs back read committed; analytics' closed windows, every partition's, merged.

Read committed, so a window is seen once its transaction committed and never twice; each
input partition's windows come from whichever instance held it, so the merged picture is
complete however many instances ran.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin
from pipeline.serde import AvroDecoder, DecodeError
from pipeline.services.stats import Picture, merge, window_of
from pipeline.services.windows import ClosedWindow

READ_TIMEOUT_S = 30.0


class StatsError(PipelineError):
    pass


def read_committed(
    settings: Settings, topic: str, timeout_s: float = READ_TIMEOUT_S
) -> list[bytes]:
    """Every committed value of `topic`, to its end as of now (none if it does not exist)."""
    admin = Admin.from_settings(settings)
    partitions = admin.partitions(topic)
    if not partitions:
        return []
    ends = settled_ends(admin, topic, partitions)
    todo = {p for p, end in ends.items() if end > 0}
    config = settings.kafka_config(
        **{"group.id": f"reader-{time.time_ns()}", "isolation.level": "read_committed"}
    )
    consumer = clients.consumer(config)
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                error = message.error()
                if error is None:
                    values.append(message.value() or b"")
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
            positions = consumer.position([TopicPartition(topic, p) for p in todo])
            todo -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
    except KafkaException as exc:
        raise StatsError(f"cannot read {topic}: {exc.args[0].str()}") from exc
    finally:
        consumer.close()
    if todo:
        raise StatsError(f"{topic} not read to its end within {timeout_s:.0f} s")
    return values


def settled_ends(admin: Admin, topic: str, partitions: int, wait_s: float = 10.0) -> dict[int, int]:
    """The end of what is committed now. A transaction that just committed has its markers
    written a moment later (until then the stable end stops before it): wait up to `wait_s`
    for the stable end to reach today's high watermark, then take what is stable."""
    high = admin.offsets(topic, range(partitions))
    deadline = time.monotonic() + wait_s
    while True:
        stable = admin.offsets(topic, range(partitions), end="stable")
        if all(stable[p] >= high[p] for p in high) or time.monotonic() > deadline:
            return stable
        time.sleep(0.05)


def read_windows(settings: Settings) -> list[ClosedWindow]:
    """Every closed window on the stats topic."""
    topic = settings.stats_topic
    values = read_committed(settings, topic)
    if not values:
        return []
    decoder = AvroDecoder(registry_client.connect(settings), registry_client.value_subject(topic))
    try:
        return [window_of(decoder.decode(value)[1]) for value in values]
    except DecodeError as exc:
        raise StatsError(f"{topic} holds a record that is not order_stats: {exc}") from exc


def read_picture(settings: Settings) -> Picture:
    return merge(read_windows(settings))
