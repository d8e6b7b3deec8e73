"""The `_schemas` topic: checked or created, replayed, followed, written, and watched.

`open()` checks the topic (compacted, one partition), replays it, takes over writing
(fencing any registry that wrote before) and records this instance as the writer. `write`
returns only once the reader has applied what was written, so a request that follows a
write always sees it. After a write whose outcome is unknown, `prepare` sets the writer
up again and reads the topic to its end before anything new is decided: the topic is the
truth, and a client that retries gets what was stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaException

from pipeline.errors import RegistryError
from pipeline.kafka.admin import Admin, TopicError, TopicSpec
from pipeline.registry import records
from pipeline.registry.errors import NotWriter, StoreTimeout, StoreUnavailable
from pipeline.registry.readiness import PROBE_TIMEOUT_S, Readiness, Watch
from pipeline.registry.state import State
from pipeline.registry.topic_reader import TopicReader
from pipeline.registry.topic_writer import WRITE_TIMEOUT_S, Records, TopicWriter

log = logging.getLogger(__name__)


class SchemasTopic:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        client_properties: Mapping[str, str],
        timeout_s: float,
        instance: str,
        state: State,
        on_fatal: Callable[[str], None],
    ) -> None:
        # librdkafka's own lines stay out of the log (the watch reports an outage once, by
        # its address); client properties may turn them back on with `log_level`.
        base: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "log_level": 2,
            **client_properties,
            "logger": logging.getLogger("pipeline.registry.kafka"),
        }
        self._topic, self._timeout_s, self._instance = topic, timeout_s, instance
        self._state, self._on_fatal = state, on_fatal
        self._base = base
        self._admin = Admin(base, timeout_s=timeout_s)
        self._reader = TopicReader(base, topic, self._apply)
        self._writer = TopicWriter(base, topic, timeout_s)
        self._watch: Watch | None = None
        # Set while a write's outcome is unknown: the next one reads the topic to its end.
        self._uncertain = False

    def open(self) -> None:
        topic_id = self.ensure_topic()
        self._reader.open()
        self._catch_up(self._timeout_s, RegistryError)
        try:
            self._writer.ensure()
            self._claim()
        except (StoreUnavailable, StoreTimeout, NotWriter) as exc:
            raise RegistryError(f"cannot start writing {self._topic}: {exc}") from exc
        log.info("%s: this instance writes (%s)", self._topic, self._instance)
        self._watch = Watch(
            # Its own client, asked with a short timeout: the watch must notice within seconds.
            admin=Admin(self._base, timeout_s=PROBE_TIMEOUT_S),
            topic=self._topic,
            topic_id=topic_id,
            instance=self._instance,
            state=self._state,
            reader=self._reader,
            writer=self._writer,
            on_fatal=self._on_fatal,
        )
        self._watch.start()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        self._reader.close()
        self._writer.close()

    def ensure_topic(self) -> str:
        """Create the compacted one-partition topic, or check the existing one; its id."""
        try:
            partitions = self._admin.partitions(self._topic)
            if partitions is None:
                self._admin.ensure([TopicSpec(self._topic, 1, {"cleanup.policy": "compact"})])
            elif partitions != 1:
                raise RegistryError(
                    f"topic {self._topic} has {partitions} partitions; "
                    "a schemas topic must have exactly 1"
                )
            else:
                policy = self._admin.config(self._topic).get("cleanup.policy")
                if policy != "compact":
                    raise RegistryError(
                        f"topic {self._topic} has cleanup.policy={policy}; a schemas topic must "
                        "be compacted (cleanup.policy=compact), or old schemas would be deleted"
                    )
            return self._admin.topic_ids([self._topic])[self._topic]
        except TopicError as exc:
            raise RegistryError(str(exc)) from exc

    def readiness(self) -> Readiness:
        if self._watch is None:
            return Readiness(False, "starting", self._instance, self._state.writer, 0)
        return self._watch.readiness()

    # --- writing (callers serialize writes) ---------------------------------------------------

    def prepare(self) -> None:
        """Before a write is decided: Kafka reachable, this instance the writer, state true."""
        kafka_error = self._watch.kafka_error if self._watch is not None else None
        if kafka_error:
            raise StoreUnavailable(f"{kafka_error}; nothing was written")
        self._writer.ensure()
        if self._uncertain:
            self._catch_up(WRITE_TIMEOUT_S, StoreTimeout)
            self._uncertain = False
        writer = self._state.writer
        if writer != self._instance:
            raise NotWriter(
                f"this registry instance is read-only: {writer or 'another instance'} "
                f"writes to {self._topic}; send writes there"
            )

    def write(self, batch: Records) -> None:
        """Write the records as one transaction; return once the reader has applied them."""
        self._uncertain = True  # until they are known to be applied
        offset = self._writer.write(batch)
        if not self._reader.wait_for(offset + 1, WRITE_TIMEOUT_S):
            raise StoreTimeout(f"the write to {self._topic} was not read back in time")
        self._uncertain = False

    def _claim(self) -> None:
        """Record this instance as the writer (and the highest id so far) in the topic."""
        value = records.registry_value(max_schema_id=self._state.max_id, writer=self._instance)
        self.write([(records.REGISTRY_KEY, value)])

    def _catch_up(self, timeout_s: float, error: type[Exception]) -> None:
        """Apply the topic up to its end as the broker sees it now."""
        deadline = time.monotonic() + timeout_s
        while True:  # a broker that just started may not know the partition's leader yet
            try:
                end = self._reader.end_offset(2.0)
                break
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    reason = exc.args[0].str()
                    raise error(f"cannot read the end of {self._topic}: {reason}") from exc
        if not self._reader.wait_for(end, timeout_s):
            raise error(
                f"could not read {self._topic} to offset {end} within {timeout_s:.0f}s "
                f"(reached {self._reader.position})"
            )

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        record = records.decode(key, value)
        if record is not None:
            self._state.apply(record)
