"""What the consume loop owns right now, and the `PartitionAware` calls that go with it.

librdkafka runs the rebalance callbacks from inside `consume()`, with cooperative-sticky
assignment: `on_assign` brings only the partitions added, `on_revoke`/`on_lost` only those
taken away. Two consequences shape this module:

- A batch is polled in two `consume()` calls; a partition revoked during the second one may
  already have messages in the batch. `owns()` tells the loop to drop those: the new owner
  reads them again from the committed offset, so handling them here would do them twice and
  could commit an offset behind the new owner's.
- An exception must not escape into librdkafka. A callback that fails keeps its error, and
  `raise_failure()` raises it right after `consume()` returns, before any message is handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from pipeline.kafka.admin import Admin
from pipeline.model import PartitionRef
from pipeline.services.base import CommitAware, PartitionAware, Service

log = logging.getLogger(__name__)

Key = tuple[str, int]
# Told of partitions given up, while still owned: revoked (commit=True: commit their done
# work now) or lost (commit=False: another member may own them already).
GiveUp = Callable[[Consumer, set[Key], bool], None]
# Told of the positions a service holds for partitions just assigned (at-least-once only:
# under exactly-once the offsets move in the service's transactions alone).
Adopt = Callable[[Mapping[Key, int]], None]


class Assignment:
    """The partitions assigned to this consumer, with their topics' ids."""

    def __init__(
        self, service: Service, admin: Admin, give_up: GiveUp, adopt: Adopt | None = None
    ) -> None:
        self._service = service
        self._aware: PartitionAware | None = (
            service if isinstance(service, PartitionAware) else None
        )
        self._admin = admin
        self._give_up = give_up
        self._adopt = adopt
        self._owned: dict[Key, PartitionRef] = {}
        self._failure: BaseException | None = None
        self.changes = 0  # assignments and revocations seen (the loop resets its idle timer)

    @property
    def refs(self) -> Mapping[Key, PartitionRef]:
        """The partitions owned now, by (topic, partition): a live view, read per message."""
        return self._owned

    def topic_id(self, topic: str, partition: int) -> str:
        ref = self._owned.get((topic, partition))
        return "" if ref is None else ref.topic_id

    def partitions(self) -> list[int]:
        return sorted(partition for _, partition in self._owned)

    def owned_keys(self) -> set[Key]:
        return set(self._owned)

    def committed(self, offsets: Iterable[TopicPartition]) -> None:
        """Tell a CommitAware service what the runner just committed, by partition ref."""
        if not isinstance(self._service, CommitAware):
            return
        refs = {
            self._owned[(tp.topic, tp.partition)]: tp.offset
            for tp in offsets
            if (tp.topic, tp.partition) in self._owned
        }
        if refs:
            self._service.committed(refs)

    def raise_failure(self) -> None:
        """Raise what a callback could not do (then the loop must stop before handling)."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.changes += 1
        try:
            refs = self._refs(partitions)
            starts: Mapping[PartitionRef, int] = {}
            if self._aware is not None and refs:
                # Before any of their events is handled: the service's own positions win.
                starts = self._aware.assigned(refs)
            consumer.incremental_assign(
                [TopicPartition(r.topic, r.partition, starts.get(r, OFFSET_INVALID)) for r in refs]
            )
            self._owned.update({(r.topic, r.partition): r for r in refs})
            if self._adopt is not None and starts:
                self._adopt({(r.topic, r.partition): offset for r, offset in starts.items()})
            log.info("%s assigned %s", self._service.name, _names(refs))
        except Exception as exc:
            self._fail(exc, "assignment")

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._take_away(consumer, partitions, commit=True)

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Lost: another member may own them already, so nothing is committed for them.
        self._take_away(consumer, partitions, commit=False)

    def _take_away(
        self, consumer: Consumer, partitions: list[TopicPartition], *, commit: bool
    ) -> None:
        self.changes += 1
        keys = {(p.topic, p.partition) for p in partitions}
        refs = [self._owned.get(key, PartitionRef(*key)) for key in sorted(keys)]
        try:
            self._give_up(consumer, keys & set(self._owned), commit)
            # Batches are handled between polls, so their last batch is done by now.
            if self._aware is not None and refs:
                self._aware.revoked(refs)
        except Exception as exc:
            self._fail(exc, "revocation")
        finally:
            for key in keys:
                self._owned.pop(key, None)
            try:
                consumer.incremental_unassign(partitions)
            except Exception as exc:  # a closing consumer has nothing left to unassign
                log.debug("incremental_unassign: %s", exc)
        log.info("%s gave up %s", self._service.name, _names(refs))

    def _refs(self, partitions: Iterable[TopicPartition]) -> list[PartitionRef]:
        parts = list(partitions)
        # Messages carry no topic id: asked once per assignment, for its topics only.
        ids = self._admin.topic_ids({p.topic for p in parts}) if parts else {}
        return [PartitionRef(p.topic, p.partition, ids.get(p.topic, "")) for p in parts]

    def _fail(self, exc: BaseException, during: str) -> None:
        log.warning("%s: %s failed: %s", self._service.name, during, exc)
        if self._failure is None:
            self._failure = exc


def _names(refs: Iterable[PartitionRef]) -> str:
    return ", ".join(f"{r.topic}[{r.partition}]" for r in refs) or "nothing"
