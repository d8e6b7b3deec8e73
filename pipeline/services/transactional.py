"""A stateful service's batches in the consume loop: one output, one commit per batch.

The loop hands each batch's dead letters and messages to `StatefulBatches.finish`, which
sends the letters through the batch's output (into the transaction under exactly-once),
has the service stage its changelog records and input positions, and commits the output
with the consumed offsets. A transaction that had to be aborted is reported as False: the
loop reads the batch again, and the service has forgotten its changes. A letter too large
for the dead-letter topic's `max.message.bytes` is replaced, before it is sent, by an
`oversized` letter carrying its size and digest: one such letter cannot abort every retry.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from pipeline.config import Settings
from pipeline.dlq import FRAMING_BYTES, DeadLetter, DeadLetterError, oversized
from pipeline.kafka.admin import Admin
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
        self._refused: set[Where] = set()  # letters the broker refused: their digest next time
        self._digest_refused: Where | None = None  # even the digest: nothing can be carried
        self._aborts_in_a_row = 0

    def start(self) -> None:
        """Claim the state folder, start the output (fencing this instance's predecessor)."""
        config = Admin.from_settings(self.settings).config(self.settings.dlq_topic)
        self._letter_limit = int(config.get("max.message.bytes") or DEFAULT_MAX_MESSAGE_BYTES)
        instance = self.service.open(self.group_id)
        identity = f"{self.group_id}.{self.settings.topic}.{instance}"
        # The client takes a letter as large as the topic does (its own default is lower).
        largest = max(1_000_000, self._letter_limit + FRAMING_BYTES)
        self._output = batch_output(self.settings, self.guarantee, identity, largest)
        self._output.start()
        self.service.bind(self._output)

    @property
    def output(self) -> BatchOutput:
        if self._output is None:
            raise RuntimeError("StatefulBatches.start() was not called")
        return self._output

    def begin(self) -> None:
        self.output.begin()

    def abandon(self) -> None:
        """Nothing of the batch is to count (it is read again later)."""
        self.output.abort()
        self.service.aborted()

    def finish(
        self, consumer: Consumer, messages: Sequence[Message], letters: Sequence[DeadLetter]
    ) -> Counter[str] | None:
        """Send the letters, stage the state, commit; the letters written by kind, or None
        if the transaction was aborted (the batch must be read again)."""
        output = self.output
        kinds: Counter[str] = Counter()
        for letter in letters:
            where = (letter.topic, letter.partition, letter.offset)
            if letter.size() + FRAMING_BYTES > self._letter_limit:
                # Checked before it is sent: in a transaction, a refused record would
                # abort every retry of the batch.
                letter = oversized(letter, f"larger than {self.settings.dlq_topic} takes")
            elif where in self._refused:  # refused last time, though it looked as if it fit
                letter = oversized(letter, f"refused by {self.settings.dlq_topic}")
            kinds[letter.kind] += 1
            output.send(
                self.settings.dlq_topic,
                letter.value,
                letter.key,
                headers=letter.kafka_headers(),
                on_delivery=self._watch(where, letter.kind == "oversized"),
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
            if self._digest_refused is not None:  # the topic takes nothing: stop, commit nothing
                topic, partition, offset = self._digest_refused
                raise DeadLetterError(
                    f"cannot write to {self.settings.dlq_topic}: it refuses even the digest of "
                    f"the letter for {topic}[{partition}]@{offset} ({exc})"
                ) from exc
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

    def _watch(self, where: Where, digest: bool) -> Callable[[KafkaError | None, Message], None]:
        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:  # no calls on the error: see OutputProducer._delivered
                self._refused.add(where)
                if digest:
                    self._digest_refused = where

        return delivered

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
