"""Reading `_schemas`: a thread follows the topic and applies each record in order.

The consumer is read_committed, so a write is applied once its transaction commits and
never when it is aborted; its end offset (the last stable offset) is where a reader that
has applied everything stands. `position` is the next offset to apply; writers wait on it.
The end is asked through a second consumer: a watermark query on the one being polled by
the thread blocks until that poll is over, and with the thread polling again at once, for
good.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from pipeline.kafka import clients

log = logging.getLogger(__name__)
POLL_S = 0.2
OnRecord = Callable[[bytes | None, bytes | None], None]


class TopicReader:
    def __init__(self, config: Mapping[str, Any], topic: str, on_record: OnRecord) -> None:
        self._config = config
        self._topic = topic
        self._on_record = on_record
        self._consumer: Consumer | None = None
        self._prober: Consumer | None = None
        self._probe_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._position = 0
        self._advanced = threading.Condition()

    def open(self) -> None:
        """Start following the topic from its beginning, in a thread."""
        config = {
            **self._config,
            "group.id": f"schema-registry-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
        self._prober = clients.consumer(config)
        self._consumer = clients.consumer(config)
        self._consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
        self._thread = threading.Thread(target=self._follow, name="schemas-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        elif self._consumer is not None:
            self._consumer.close()
        self._consumer = None
        with self._probe_lock:
            if self._prober is not None:
                self._prober.close()
                self._prober = None

    @property
    def position(self) -> int:
        return self._position

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def end_offset(self, timeout_s: float) -> int:
        """The topic's committed end, asked of the broker now (raises KafkaException)."""
        partition = TopicPartition(self._topic, 0)
        with self._probe_lock:
            if self._prober is None:
                raise RuntimeError("the reader is closed")
            _, high = self._prober.get_watermark_offsets(partition, timeout=timeout_s, cached=False)
        return int(high)

    def wait_for(self, offset: int, timeout_s: float) -> bool:
        """Block until every record before `offset` is applied."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self._position >= offset, timeout_s)

    def _follow(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            while not self._stopping.is_set():
                # poll() returns on the first record (consume() would wait for a full batch
                # or its timeout: that wait would add to every write); then drain the rest.
                first = consumer.poll(POLL_S)
                if first is None:
                    continue
                for message in [first, *consumer.consume(num_messages=500, timeout=0)]:
                    self._take(message)
        except Exception:
            # The watch sees the thread gone and stops the registry: no frozen state served.
            log.exception("the reader of %s failed", self._topic)
            raise
        finally:
            consumer.close()

    def _take(self, message: Message) -> None:
        error = message.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            log.debug("reading %s: %s", self._topic, error)
            return
        offset = message.offset() or 0
        if error is None:
            try:
                self._on_record(message.key(), message.value())
            # One bad record must not stop the registry: skip it, say so, go on.
            except Exception:
                log.exception("skipping record at offset %s of %s", offset, self._topic)
            offset += 1
        with self._advanced:
            self._position = max(self._position, offset)
            self._advanced.notify_all()
