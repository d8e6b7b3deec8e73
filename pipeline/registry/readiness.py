"""Whether the registry can do its job right now, watched once a second.

Ready means: Kafka answers, the reader has applied the topic up to where it ended a
moment ago, and this instance's writer is usable. Each change is logged once. Kafka being
away is waited out (the writer is set up again once it is back); what cannot get better
(the topic deleted or replaced, the reader thread dead, the reader stuck while Kafka
answers) is fatal: `on_fatal` stops the registry rather than let it serve frozen state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaException

from pipeline.kafka.admin import Admin, TopicError
from pipeline.registry.state import State
from pipeline.registry.topic_reader import TopicReader
from pipeline.registry.topic_writer import TopicWriter

log = logging.getLogger(__name__)
INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 2.0
TOPIC_CHECK_EVERY = 3  # intervals
STUCK_S = 60.0


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str  # why not; "" when ready
    instance: str
    writer: str | None
    position: int


class Watch:
    def __init__(
        self,
        *,
        admin: Admin,
        topic: str,
        topic_id: str,
        instance: str,
        state: State,
        reader: TopicReader,
        writer: TopicWriter,
        on_fatal: Callable[[str], None],
    ) -> None:
        self._admin, self._topic, self._topic_id = admin, topic, topic_id
        self._instance, self._state = instance, state
        self._reader, self._writer, self._on_fatal = reader, writer, on_fatal
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.kafka_error: str | None = None  # set while Kafka does not answer
        self._previous_end = 0
        self._stuck_since: float | None = None
        self._stuck: str | None = None
        self._topic_seen_wrong = False
        self._current = Readiness(False, "starting", instance, None, 0)

    def start(self) -> None:
        """Assess once now (so readiness is true from the first request), then every second."""
        self._current = self._assess()
        self._thread = threading.Thread(target=self._run, name="registry-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def readiness(self) -> Readiness:
        """The last round's answer, or read-only at once when another instance took over."""
        current = self._current
        taken_over = self._read_only()
        if current.ready and taken_over:
            return Readiness(False, taken_over, self._instance, current.writer, current.position)
        return current

    def _run(self) -> None:
        rounds = 0
        while not self._stopping.wait(INTERVAL_S):
            try:
                fatal = self._fatal(check_topic=rounds % TOPIC_CHECK_EVERY == 0)
                assessed = self._assess() if fatal is None else None
            except Exception:
                if self._stopping.is_set():
                    return  # the clients were closed under this round
                log.exception("checking readiness failed")  # a bug: said, tried again
                continue
            finally:
                rounds += 1
            if assessed is None:
                assert fatal is not None
                self._set(Readiness(False, fatal, self._instance, self._state.writer, 0))
                self._on_fatal(fatal)
                return
            self._set(assessed)

    def _fatal(self, *, check_topic: bool) -> str | None:
        if not self._reader.alive():
            return f"the reader of {self._topic} stopped (see the log above)"
        if self._stuck is not None:
            return self._stuck
        if check_topic:
            return self._topic_problem()
        return None

    def _topic_problem(self) -> str | None:
        """The topic gone or replaced, seen twice in a row (a broker that has just started
        may answer before it knows every topic)."""
        try:
            found = self._admin.metadata().topics.get(self._topic)
            if found is None:
                problem = f"topic {self._topic} was deleted; this registry's state is gone with it"
            elif found.error is not None:
                problem = None  # no leader yet, say: not a verdict
            elif self._admin.topic_ids([self._topic]).get(self._topic) != self._topic_id:
                problem = f"topic {self._topic} was deleted and created again; restart the registry"
            else:
                problem = None
        except TopicError:
            return None  # Kafka away: the probe says so
        seen_before, self._topic_seen_wrong = self._topic_seen_wrong, problem is not None
        return problem if seen_before else None

    def _assess(self) -> Readiness:
        reason = self._probe() or self._writer_problem()
        position = self._reader.position
        return Readiness(not reason, reason, self._instance, self._state.writer, position)

    def _probe(self) -> str:
        """Kafka's answer and the reader's progress; '' when both are fine."""
        try:
            end = self._reader.end_offset(PROBE_TIMEOUT_S)
        except KafkaException as exc:
            detail = exc.args[0].str()
            self.kafka_error = (
                f"Kafka at {self._admin.bootstrap} does not answer for {self._topic} ({detail})"
            )
            return self.kafka_error
        self.kafka_error = None
        behind, self._previous_end = self._reader.position < self._previous_end, end
        if not behind:
            self._stuck_since = None
            return ""
        self._stuck_since = self._stuck_since or time.monotonic()
        if time.monotonic() - self._stuck_since > STUCK_S:
            self._stuck = f"the reader of {self._topic} made no progress for {STUCK_S:.0f} s"
        return f"the reader of {self._topic} is behind: at {self._reader.position} of {end}"

    def _read_only(self) -> str:
        writer = self._state.writer
        if self._writer.fenced or (writer is not None and writer != self._instance):
            other = writer if writer != self._instance else "another registry instance"
            return f"read-only: {other} writes to {self._topic} (it started later and took over)"
        return ""

    def _writer_problem(self) -> str:
        taken_over = self._read_only()
        if taken_over:
            return taken_over
        if not self._writer.usable:
            try:
                self._writer.ensure(PROBE_TIMEOUT_S)  # Kafka answers again: set it up again
            except Exception as exc:  # reported, and tried again next round
                return f"the writer of {self._topic} is not ready: {exc}"
        return ""

    def _set(self, readiness: Readiness) -> None:
        before, self._current = self._current, readiness
        if readiness.reason != before.reason:
            if readiness.ready:
                log.info("registry ready (writer: %s)", readiness.writer)
            else:
                log.warning("registry not ready: %s", readiness.reason)
