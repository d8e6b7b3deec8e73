"""The consumers' bounded prefetch keeps up with a consumer that drains it fast (a real broker).

librdkafka stops fetching a partition while its local queue is over the prefetch bounds and
looks again only after `fetch.queue.backoff.ms` (one second by default): a consumer that
empties a bounded queue faster than that waits with a backlog on the broker.
"""

from __future__ import annotations

import time

from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics

MESSAGES = 40_000
VALUE = b"x" * 500  # 20 MB in all: ten times the prefetch's 2 MiB
# Longer than any pause a loaded machine gives a loopback broker, shorter than the 1 s a
# full queue used to wait before the next fetch.
POLL_S = 0.8


def _fill(settings: Settings, topic: str) -> None:
    ensure_topics(settings, {topic: 1})
    producer = clients.producer(settings.kafka_config(**{"linger.ms": 20}))
    for index in range(MESSAGES):
        producer.produce(topic, VALUE, str(index))
        if index % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def test_a_backlog_is_read_without_a_poll_coming_back_empty(settings: Settings) -> None:
    topic = f"{settings.topic}.prefetch"
    _fill(settings, topic)
    consumer = clients.consumer(clients.consumer_config(settings, f"{topic}.group"))
    consumer.subscribe([topic])
    read, empty_polls = 0, 0
    deadline = time.monotonic() + 60
    try:
        # The runner's way: wait for one message, then take what has arrived meanwhile.
        while read < MESSAGES and time.monotonic() < deadline:
            batch = consumer.consume(1, POLL_S)
            if batch:
                batch += consumer.consume(1999, 0)
            elif read:  # before the first message, the group is still being joined
                empty_polls += 1
            read += sum(1 for message in batch if message.error() is None)
    finally:
        consumer.close()
    assert read == MESSAGES
    assert empty_polls == 0
