"""A stateful service's batches in the consume loop: one output, one commit per batch.

The loop hands each batch's dead letters and messages to `StatefulBatches.finish`, which
sends the letters through the batch's output (into the transaction under exactly-once),
has the service stage its changelog records and input positions, and commits the output
with the consumed offsets. A transaction that had to be aborted is reported as None: the
loop reads the batch again, and the service has forgotten its changes.

A letter too large for the dead-letter topic's `max.message.bytes` (judged by its size on
the wire) is replaced, before it enters the transaction, by an `oversized` letter carrying
its size and digest: one such letter cannot abort every retry. Should the broker refuse a
letter all the same (the topic's limit lowered since it was read), the transaction is
aborted and the whole batch redone with the digest in its place, never in the transaction
that already failed. When not even the digest fits, the batch is abandoned and the
service stops with DeadLetterError before anything of it reaches the topic.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from pipeline.config import Settings
from pipeline.dlq import DeadLetter, DeadLetterError, fitted, producer_limits
from pipeline.kafka.admin import Admin
from pipeline.kafka.checked_producer import MESSAGE_REFUSALS
from pipeline.kafka.transactions import TransactionAborted, TransactionError
from pipeline.model import PartitionRef
from pipeline.services.guarantees import BatchOutput, Guarantee, batch_output
from pipeline.services.stateful import Stateful

log = logging.getLogger(__name__)
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
# A batch aborted this many times in a row stops the service instead of looping forever.
MAX_ABORTS_IN_A_ROW = 10
Where = tuple[str, int, int]  # a letter's input topic, partition, offset

TopicIdOf = Callable[[str, int], str]


class StatefulBatches:
    def __init__(
        self,
        settings: Settings,
        service: Stateful,
        group_id: str,
        guarantee: Guarantee,
        topic_id_of: TopicIdOf,
    ) -> None:
        self.settings = settings
        self.service = service
        self.group_id = group_id
        self.guarantee = guarantee
        self._topic_id_of = topic_id_of
        self._output: BatchOutput | None = None
        self._letter_limit = DEFAULT_MAX_MESSAGE_BYTES
        # Delivery errors of this batch's letters, looked at once the commit failed (no
        # calls on an error inside its callback: see OutputProducer._delivered).
        self._failures: dict[Where, tuple[KafkaError, bool]] = {}
        self._refused: dict[Where, str] = {}  # letters the broker refused: their digest next
        self._aborts_in_a_row = 0

    def start(self) -> None:
        """Claim the state folder, start the output (fencing this instance's predecessor)."""
        config = Admin.from_settings(self.settings).config(self.settings.dlq_topic)
        self._letter_limit = int(config.get("max.message.bytes") or DEFAULT_MAX_MESSAGE_BYTES)
        instance = self.service.open(self.group_id)
        identity = f"{self.group_id}.{self.settings.topic}.{instance}"
        limits = producer_limits(self._letter_limit)
        self._output = batch_output(
            self.settings,
            self.guarantee,
            identity,
            limits["message.max.bytes"],
            limits["batch.size"],
        )
        self._output.start()
        self.service.bind(self._output)

    @property
    def output(self) -> BatchOutput:
        if self._output is None:
            raise RuntimeError("StatefulBatches.start() was not called")
        return self._output

    def begin(self) -> None:
        self.output.begin()

    def abandon(self, restart: bool = True) -> None:
        """Nothing of the batch is to count (it is read again later, or by the next run
        when the service is stopping: `restart` False)."""
        self.output.abort(restart)
        self.service.aborted()

    def finish(
        self, consumer: Consumer, messages: Sequence[Message], letters: Sequence[DeadLetter]
    ) -> Counter[str] | None:
        """Send the letters, stage the state, commit; the letters written by kind, or None
        if the transaction was aborted (the batch must be read again)."""
        output = self.output
        try:
            ready = [self._fitted(letter) for letter in letters]
        except DeadLetterError:
            # Nothing of this letter entered the transaction; none of it counts; the service
            # stops on this error, so no new producer is started for it.
            self.abandon(restart=False)
            raise
        kinds: Counter[str] = Counter(letter.kind for letter in ready)
        self._failures.clear()
        for letter in ready:
            output.send(
                self.settings.dlq_topic,
                letter.value,
                letter.key,
                headers=letter.kafka_headers(),
                on_delivery=self._watch(letter),
            )
        positions = next_offsets(messages)
        refs = {
            PartitionRef(topic, partition, self._topic_id_of(topic, partition)): offset
            for (topic, partition), offset in positions.items()
        }
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(positions.items())]
        try:
            self.service.before_commit(refs)
            output.commit(consumer, offsets)
        except TransactionAborted as exc:
            log.warning("%s: %s; the batch is read again", self.service.name, exc)
            self.service.aborted()
            self._note_refusals(exc)
            self._aborts_in_a_row += 1
            if self._aborts_in_a_row >= MAX_ABORTS_IN_A_ROW:
                raise TransactionError(
                    f"{self.service.name}: a batch was aborted {self._aborts_in_a_row} times "
                    f"in a row, the last time: {exc}"
                ) from exc
            return None
        self._aborts_in_a_row = 0
        self._refused.clear()
        # At-least-once: even if only the offset commit failed, the outputs and the
        # changelog are stored, so the local files may follow them.
        self.service.committed()
        return kinds

    def _fitted(self, letter: DeadLetter) -> DeadLetter:
        """The letter, or its digest: when too large, or refused by the broker last time."""
        refused = self._refused.get((letter.topic, letter.partition, letter.offset))
        return fitted(letter, self._letter_limit, self.settings.dlq_topic, refused)

    def _watch(self, letter: DeadLetter) -> Callable[[KafkaError | None, Message], None]:
        where = (letter.topic, letter.partition, letter.offset)
        digest = letter.kind == "oversized"

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:  # no calls on the error here
                self._failures[where] = (error, digest)

        return delivered

    def _note_refusals(self, aborted: TransactionAborted) -> None:
        """Letters the broker refused for what they are go as their digest next time; a
        digest refused stops the service (the transaction is aborted: nothing committed).
        Other delivery errors (a record of the aborted transaction failing with it) are
        not about the letter: it is sent as it was."""
        failures, self._failures = self._failures, {}
        for where, (error, digest) in failures.items():
            if error.code() not in MESSAGE_REFUSALS:
                continue
            if digest:
                topic, partition, offset = where
                raise DeadLetterError(
                    f"cannot write to {self.settings.dlq_topic}: it refuses even the digest "
                    f"of the letter for {topic}[{partition}]@{offset} ({aborted})"
                ) from aborted
            self._refused[where] = f"refused by {self.settings.dlq_topic}: {error.str()}"

    def close(self) -> None:
        if self._output is not None:
            self._output.close()


def next_offsets(messages: Sequence[Message]) -> dict[tuple[str, int], int]:
    """The next offset to read of each partition in the batch."""
    found: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic() or "", message.partition() or 0)
        found[key] = max(found.get(key, 0), (message.offset() or 0) + 1)
    return found
