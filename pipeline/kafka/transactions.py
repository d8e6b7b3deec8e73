"""The one producer of a stateful service's output, and its transactions.

Exactly-once: one Kafka transaction per batch holds the batch's output records, changelog
records, dead letters and consumed offsets (`send_offsets_to_transaction` with the
consumer's group metadata, KIP-447: a member fenced out of its group cannot commit). The
producer's `transactional.id` is the instance's lasting identity, so `start()` on a
restarted instance aborts whatever its predecessor left open and fences it off.

Errors (KIP-1050's categories, as librdkafka flags them): retriable ones are retried
here; one that requires an abort aborts the transaction and raises `TransactionAborted`
(the batch is redone: nothing of it is visible to read_committed readers); a fatal one
(fenced by a newer instance, a broken producer) raises `TransactionFatal`: the service must
stop. Without a transactional id the producer is idempotent and `flush()` is its commit.

After an abort the Kafka producer is replaced by a new one of the same transactional id,
whose `init_transactions` ends whatever the old one left open. An aborted transaction can
leave the old one's sequence numbers behind what the broker stored (a record the broker
refused keeps its number: the next transaction fails with "skipped sequence numbers"), and
an abort that itself failed leaves it in a state no further call may be made in (a second
`init_transactions` beside a pending one is refused as conflicting). A new producer starts
from a state the broker agrees with, at the price of one `init_transactions` per abort.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0
RETRIES = 8
# init_transactions waits for the broker to end what a predecessor left open; it is given
# this long in all before the service is stopped with the broker's last answer.
INIT_DEADLINE_S = 60.0
# Long enough for a slow batch on a loaded laptop; short enough that a transaction a dead
# instance left open (and that no restart on its folder aborts) holds readers up briefly.
TRANSACTION_TIMEOUT_MS = 20_000
OUTPUT_CONFIG = {"acks": "all", "enable.idempotence": True, "linger.ms": 5}

Headers = list[tuple[str, str | bytes | None]]
OnDelivery = Callable[[KafkaError | None, Message], None]


class TransactionError(PipelineError):
    pass


class TransactionAborted(TransactionError):
    """The transaction was aborted: none of it is visible; the batch must be redone."""


class TransactionFatal(TransactionError):
    """The producer cannot go on (fenced by a newer instance, or broken): stop the service."""


def classify(error: KafkaError) -> str:
    """ "fatal", "abort" or "retry": what to do about a transactional call's error."""
    if error.fatal():
        return "fatal"
    if error.txn_requires_abort():
        return "abort"
    # _CONFLICT: the previous attempt of the same call (timed out) is still under way.
    return "retry" if error.retriable() or error.code() == KafkaError._CONFLICT else "abort"


class OutputProducer:
    """Produces a service's output; transactional when given a transactional id."""

    def __init__(
        self,
        settings: Settings,
        transactional_id: str | None,
        *,
        timeout_s: float = TIMEOUT_S,
        message_max_bytes: int | None = None,
        batch_max_bytes: int | None = None,
    ) -> None:
        self.settings = settings
        self.message_max_bytes = message_max_bytes
        self.batch_max_bytes = batch_max_bytes  # a batch larger than a topic takes is refused
        self.transactional_id = transactional_id
        self.timeout_s = timeout_s
        self.committed = 0
        self.aborted = 0
        self.last_commit_at: float | None = None  # wall time of the last commit
        self._producer: Producer | None = None
        self._failed: KafkaError | None = None  # the first delivery error of the batch
        self._broken = False  # a call failed the way a fatal error shows (see `flush`)

    def start(self) -> None:
        """Build the producer; a transactional one fences its predecessors first."""
        extra: dict[str, Any] = dict(OUTPUT_CONFIG)
        if self.message_max_bytes:
            extra["message.max.bytes"] = self.message_max_bytes
        if self.batch_max_bytes:
            extra["batch.size"] = self.batch_max_bytes
        if self.transactional_id:
            extra["transactional.id"] = self.transactional_id
            extra["transaction.timeout.ms"] = TRANSACTION_TIMEOUT_MS
        self._producer = clients.producer(self.settings.kafka_config(**extra))
        self._failed = None
        self._broken = False
        if self.transactional_id:
            self._init_transactions()

    def _init_transactions(self) -> None:
        """Fence the predecessors and end what they left open. Never followed by an abort:
        there is no transaction yet, and a call beside a pending init is refused."""
        producer = self._ready()
        deadline = time.monotonic() + max(INIT_DEADLINE_S, self.timeout_s)
        while True:
            left = deadline - time.monotonic()
            try:
                # Called again after a timeout, it resumes the same initialisation.
                producer.init_transactions(max(1.0, min(self.timeout_s, left)))
                return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if classify(error) == "fatal":
                    raise TransactionFatal(f"starting transactions: {error.str()}") from exc
                if classify(error) != "retry" or left <= 1.0:
                    raise TransactionError(
                        f"starting transactions as {self.transactional_id}: {error.str()}"
                    ) from exc
                time.sleep(0.2)

    def begin(self) -> None:
        self._failed = None
        if self.transactional_id:
            self._call(lambda p: p.begin_transaction(), "beginning a transaction")

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
        on_delivery: OnDelivery | None = None,
    ) -> None:
        producer = self._ready()
        kwargs: dict[str, Any] = {"on_delivery": self._delivered(on_delivery)}
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = headers
        while True:
            try:
                producer.produce(topic, value=value, key=key, **kwargs)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
            except KafkaException as exc:
                self._fail(exc.args[0], f"producing to {topic}")
        self._serve(lambda p: p.poll(0))

    def flush(self) -> None:
        """Until everything sent is acknowledged; raises if anything could not be stored."""
        left = self._serve(lambda p: p.flush(self.timeout_s))
        failed, self._failed = self._failed, None
        if not (left or failed or self._broken):
            return
        detail = (
            failed.str()
            if failed is not None
            else f"{left} not delivered in {self.timeout_s:.0f} s"
            if left
            else "the producer failed"
        )
        if self.transactional_id:
            self.abort()  # raises TransactionFatal when the producer cannot go on
            raise TransactionAborted(f"transaction aborted: {detail}")
        raise TransactionError(f"output not stored: {detail}")

    def commit(self, offsets: Sequence[TopicPartition], group_metadata: object) -> None:
        """Commit the transaction with the consumed `offsets`; raises if it was aborted.

        No flush first: `commit_transaction` flushes (serving the delivery reports) and
        fails if anything was not stored, so the offsets go out while the records do."""
        self._serve(lambda p: p.poll(0))
        if offsets:
            wanted = list(offsets)
            self._call(
                lambda p: p.send_offsets_to_transaction(wanted, group_metadata, self.timeout_s),
                "adding the consumed offsets to the transaction",
            )
        self._call(lambda p: p.commit_transaction(self.timeout_s), "committing the transaction")
        self._serve(lambda p: p.poll(0))  # delivery reports not served by the commit
        failed, self._failed = self._failed, None
        if failed is not None or self._broken:  # cannot be after a commit; never count it
            raise TransactionFatal(f"committed, yet a delivery failed: {failed}")
        self.committed += 1
        self.last_commit_at = time.time()

    def abort(self, restart: bool = True) -> None:
        """Abort the open transaction (what it wrote stays invisible to read_committed),
        then go on with a new producer (see the module's doc), unless `restart` is False:
        the caller is stopping, and a new producer's init would only delay the stop."""
        self._failed = None
        try:
            self._ready().abort_transaction(self.timeout_s)
        except KafkaException as exc:
            if classify(exc.args[0]) == "fatal":
                raise TransactionFatal(f"aborting the transaction: {exc.args[0].str()}") from exc
            # The new producer's init_transactions aborts it for us.
            log.warning("aborting the transaction: %s; starting anew", exc.args[0].str())
        self.aborted += 1
        self.close()
        if not restart:
            return
        try:
            self.start()
        except TransactionError as exc:
            raise TransactionFatal(f"after an aborted transaction, {exc}") from exc

    def close(self) -> None:
        if self._producer is not None:
            if not self.transactional_id:
                clients.close_producer(self._producer, self.timeout_s)
            else:
                with warnings.catch_warnings():  # a fenced producer cannot abort: expected
                    warnings.simplefilter("ignore", RuntimeWarning)
                    self._producer.close()  # the broker aborts a transaction left open
            self._producer = None

    def _call(self, action: Callable[[Producer], None], what: str) -> None:
        producer = self._ready()
        for attempt in range(RETRIES):
            try:
                action(producer)
                return
            except KafkaException as exc:
                error = exc.args[0]
                if classify(error) != "retry" or attempt == RETRIES - 1:
                    self._fail(error, what)
                time.sleep(0.1 * 2**attempt)

    def _fail(self, error: KafkaError, what: str) -> None:
        kind = classify(error) if self.transactional_id else "fatal"
        if kind == "fatal":
            raise TransactionFatal(f"{what}: {error.str()}")
        if self.transactional_id:
            self.abort()
            raise TransactionAborted(f"{what}: {error.str()}; transaction aborted")
        raise TransactionError(f"{what}: {error.str()}")

    def _ready(self) -> Producer:
        if self._producer is None:
            raise TransactionError("the output producer is not started")
        return self._producer

    def _serve(self, call: Callable[[Producer], int | None]) -> int:
        """poll/flush. After a fatal error, confluent-kafka lets the next delivery callback
        run with that error still pending, and the call then fails with a SystemError; the
        state is found out (and reported) by the abort that follows."""
        try:
            return int(call(self._ready()) or 0)
        except SystemError:
            self._broken = True
            return 0
        except KafkaException as exc:
            self._fail(exc.args[0], "delivering the output")
            return 0

    def _delivered(self, then: OnDelivery | None) -> OnDelivery:
        def delivered(error: KafkaError | None, message: Message) -> None:
            # No calls on the error here: with a fatal error pending, any call would fail
            # (and the abort that follows reports it).
            if error is not None and self._failed is None:
                self._failed = error
            if then is not None:
                then(error, message)

        return delivered
