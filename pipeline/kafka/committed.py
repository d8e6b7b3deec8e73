"""Reading a topic that transactions write, exactly: read committed, up to each partition's
last stable offset, stopping on the reader's position, never on a count of messages.

A transaction's commit or abort marker takes an offset of its own, and what an aborted
transaction wrote is never handed to a read_committed reader; so how many messages lie
between two offsets is unknown, and a reader waiting for (end - start) of them never
finishes. Instead, each partition's end is its last stable offset (LSO: every transaction
before it has ended; a read_committed reader cannot pass it), taken once the transactions
open at the start of the read have ended (bounded); and a partition is done when the
reader's position, which moves past markers and aborted records too, reaches its end.
The partition's EOF event tells that position when nothing more is to come.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin

READ_TIMEOUT_S = 30.0
# A transaction committed just before the read has its markers written a moment later, and
# a running service's open transaction ends within its commit interval: wait this long for
# the stable end to reach the high watermark seen at the start, then take what is stable.
SETTLE_S = 10.0
READ_BATCH = 1000


class ReadError(PipelineError):
    """A topic could not be read to its stable end (the message names what is missing)."""


def stable_ends(
    admin: Admin, topic: str, partitions: Iterable[int], settle_s: float = SETTLE_S
) -> dict[int, int]:
    """Each partition's last stable offset, once it reaches today's high watermark (waiting
    at most `settle_s`: a transaction left open by a killed instance holds it back until
    the broker aborts it, and the reader then stops before it)."""
    wanted = sorted(partitions)
    high = admin.offsets(topic, wanted, end="high")
    deadline = time.monotonic() + settle_s
    while True:
        stable = admin.offsets(topic, wanted, end="stable")
        if all(stable[p] >= high[p] for p in wanted) or time.monotonic() > deadline:
            return stable
        time.sleep(0.05)


def read_topic(
    settings: Settings,
    topic: str,
    *,
    timeout_s: float = READ_TIMEOUT_S,
    settle_s: float = SETTLE_S,
) -> list[Message]:
    """Every committed message of `topic`, from each partition's first offset to its stable
    end as of now, in offset order per partition (none if the topic does not exist)."""
    admin = Admin.from_settings(settings)
    count = admin.partitions(topic)
    if not count:
        return []
    ends = stable_ends(admin, topic, range(count), settle_s)
    starts = admin.offsets(topic, range(count), end="low")
    return read_span(settings, topic, starts, ends, timeout_s=timeout_s)


def read_span(
    settings: Settings,
    topic: str,
    starts: Mapping[int, int],
    ends: Mapping[int, int],
    *,
    timeout_s: float = READ_TIMEOUT_S,
) -> list[Message]:
    """The committed messages of each partition p from `starts[p]` up to (not including)
    `ends[p]`; raises `ReadError` if a partition's position does not reach its end."""
    todo = {p: ends[p] for p, start in starts.items() if start < ends.get(p, 0)}
    if not todo:
        return []
    config = clients.consumer_config(
        settings,
        f"{topic}.reader",  # assigned, never joins its group or commits
        **{"enable.partition.eof": True, "log_level": 2},
    )
    consumer = clients.consumer(config)
    try:
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in todo])
        return _drain(consumer, topic, todo, timeout_s)
    except KafkaException as exc:
        raise ReadError(f"cannot read {topic}: {exc.args[0].str()}") from exc
    finally:
        consumer.close()


def _drain(consumer: Consumer, topic: str, todo: dict[int, int], timeout_s: float) -> list[Message]:
    ends = dict(todo)
    found: list[Message] = []
    reached: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    while todo and time.monotonic() < deadline:
        for message in consumer.consume(READ_BATCH, 0.5):
            partition, offset = message.partition() or 0, message.offset() or 0
            error = message.error()
            if error is None:
                if offset < ends.get(partition, 0):  # later ones were committed after we began
                    found.append(message)
                reached[partition] = max(reached.get(partition, 0), offset + 1)
            elif error.code() == KafkaError._PARTITION_EOF:
                reached[partition] = max(reached.get(partition, 0), offset)
            else:
                raise KafkaException(error)
        for tp in consumer.position([TopicPartition(topic, p) for p in todo]):
            reached[tp.partition] = max(reached.get(tp.partition, 0), tp.offset)
        for partition in [p for p, end in todo.items() if reached.get(p, 0) >= end]:
            del todo[partition]
    if todo:
        short = ", ".join(f"[{p}] at {reached.get(p, '?')} of {end}" for p, end in todo.items())
        raise ReadError(
            f"could not read {topic} to its stable end within {timeout_s:.0f} s: {short}"
        )
    return found
