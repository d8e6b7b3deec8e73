"""How far each partition's messages are done: the position a store keeps with its rows (pure).

The exactly-once sink pattern: in the transaction that writes a batch's rows, the store
also writes each partition's next offset to read, and the consume loop starts there when the
partition is assigned (Kafka's committed offset, committed afterwards, only shows the lag).
A power cut that rolls back the last transactions rolls back their positions too, so those
messages are read again; a kill between the store's commit and Kafka's reads nothing twice.

A position must never pass a message whose outcome is not durable yet: the runner writes the
dead letters of what the store refused, and of what it could not decode (those messages
never reach the store), after the store's transaction. So a batch moves a partition's
position only over events that follow it without a gap and were not refused. The rest of
the batch is settled when the runner hands over the next one, which it does only once this
one is finished (dead letters flushed, offsets committed). A partition the store has no
position for starts at the first event it is handed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.model import Event, PartitionRef


@dataclass
class PositionBook:
    """The positions of the partitions one storage service holds."""

    _done: dict[PartitionRef, int] = field(default_factory=dict)
    _ends: dict[PartitionRef, int] = field(default_factory=dict)  # last batch, not settled
    _planned: tuple[dict[PartitionRef, int], dict[PartitionRef, int]] | None = None
    # What the runner committed to Kafka: everything before it is done, also the messages
    # the store never saw (they could not be decoded and went to the dead-letter topic).
    _committed: dict[PartitionRef, int] = field(default_factory=dict)

    def start(self, stored: Mapping[PartitionRef, int]) -> None:
        """Partitions assigned, with the positions the store holds for them."""
        self._done.update(stored)

    def forget(self, partitions: Iterable[PartitionRef]) -> None:
        """Partitions taken away: their unsettled ends are left to the next owner."""
        for ref in partitions:
            self._done.pop(ref, None)
            self._ends.pop(ref, None)
            self._committed.pop(ref, None)

    def committed(self, offsets: Mapping[PartitionRef, int]) -> None:
        """The runner committed these offsets (after the dead letters before them)."""
        for ref, offset in offsets.items():
            if ref.topic_id:
                self._committed[ref] = max(self._committed.get(ref, offset), offset)

    def advances(self, partitions: Iterable[PartitionRef] | None = None) -> dict[PartitionRef, int]:
        """Positions the committed offsets move beyond what is stored: to store when the
        partitions are given up, when no further batch would carry them."""
        wanted = None if partitions is None else set(partitions)
        return {
            ref: offset
            for ref, offset in self._committed.items()
            if (wanted is None or ref in wanted) and offset > self._done.get(ref, -1)
        }

    def saved(self, moved: Mapping[PartitionRef, int]) -> None:
        """`advances` were stored on their own."""
        self._done.update(moved)

    def plan(self, events: Sequence[Event], refused: Collection[Event]) -> dict[PartitionRef, int]:
        """The positions the batch's transaction stores: those that move. Call `settle()`
        once the transaction committed."""
        done = dict(self._done)
        for ref, end in [*self._ends.items(), *self._committed.items()]:
            done[ref] = max(done.get(ref, end), end)  # the previous batch is finished
        blocked = {(e.topic_id, e.partition, e.offset) for e in refused}
        ends: dict[PartitionRef, int] = {}
        for ref, offsets in _offsets_by_partition(events).items():
            ends[ref] = offsets[-1] + 1
            position = done.get(ref, offsets[0])
            for offset in offsets:
                if offset < position:  # read again after a seek: done already
                    continue
                if offset > position or (ref.topic_id, ref.partition, offset) in blocked:
                    break
                position += 1
            done[ref] = position
        self._planned = (done, ends)
        return {ref: offset for ref, offset in done.items() if self._done.get(ref) != offset}

    def settle(self) -> None:
        """The planned positions are stored."""
        if self._planned is not None:
            self._done, self._ends = self._planned
            self._planned = None


def _offsets_by_partition(events: Sequence[Event]) -> dict[PartitionRef, list[int]]:
    """Sorted offsets per partition, for the events whose topic id is known (a position
    keyed by a topic's name alone would outlive the topic)."""
    found: dict[tuple[str, int, str], list[int]] = {}  # plain tuples: hashed in C
    for event in events:
        if event.topic_id:
            found.setdefault((event.topic, event.partition, event.topic_id), []).append(
                event.offset
            )
    return {PartitionRef(*key): sorted(offsets) for key, offsets in found.items()}
