"""Consumer groups and lag: which groups read which partitions, how far behind they are.

Committed offsets are read through an idle consumer per group (never subscribed, so it
never joins the group): the admin client's `list_consumer_group_offsets` is not used, as
librdkafka 2.16 crashes the process (a NULL consumer-group handle in
`rd_kafka_handle_OffsetFetch`) when the coordinator answers "load in progress", which a
freshly started broker does. End offsets are the last stable offsets, what a
read_committed reader can reach (an open transaction's records are not readable yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from pipeline.kafka import clients
from pipeline.kafka.admin import TIMEOUT_S, Admin, TopicError

Where = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class GroupListing:
    group: str
    state: str  # STABLE, EMPTY, PREPARING_REBALANCE, ... (UNKNOWN when the broker says none)


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group committed nothing here yet
    end: int  # the partition's end offset (the next offset a reader can reach)
    member: str | None  # who holds the partition now (client id @ host), if anyone

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed or 0))


@dataclass(frozen=True)
class GroupLag:
    group: str
    state: str
    members: int
    partitions: tuple[PartitionLag, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


def list_groups(admin: Admin) -> list[GroupListing]:
    """Every consumer group the cluster knows, by name."""
    future = admin.client().list_consumer_groups(request_timeout=admin.timeout_s)
    try:
        result = future.result(timeout=admin.timeout_s)
    except KafkaException as exc:
        raise TopicError(f"cannot list consumer groups: {exc.args[0].str()}") from exc
    listings = [
        GroupListing(g.group_id, getattr(g.state, "name", str(g.state))) for g in result.valid
    ]
    return sorted(listings, key=lambda g: g.group)


class CommittedOffsets:
    """Groups' committed offsets, read through one idle consumer per group; close it."""

    def __init__(self, config: Mapping[str, Any], *, timeout_s: float = TIMEOUT_S) -> None:
        self._config = {"log_level": 2, **config, "enable.auto.commit": False}
        self.timeout_s = timeout_s
        self._consumers: dict[str, Any] = {}

    def of(self, group: str, partitions: Iterable[Where]) -> dict[Where, int]:
        """(topic, partition) → committed offset, for those of `partitions` it committed."""
        wanted = [TopicPartition(t, p) for t, p in partitions]
        if not wanted:
            return {}
        consumer = self._consumers.get(group)
        if consumer is None:
            consumer = clients.consumer({**self._config, "group.id": group})
            self._consumers[group] = consumer
        try:
            found = consumer.committed(wanted, timeout=self.timeout_s)
        except KafkaException as exc:
            reason = exc.args[0].str()
            raise TopicError(f"cannot read the offsets of group {group}: {reason}") from exc
        return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}

    def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()


def end_offsets(admin: Admin, partitions: Iterable[Where]) -> dict[Where, int]:
    """(topic, partition) → its last stable offset (what a read_committed reader reaches)."""
    by_topic: dict[str, set[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, set()).add(partition)
    return {
        (topic, partition): offset
        for topic, wanted in by_topic.items()
        for partition, offset in admin.offsets(topic, sorted(wanted), end="stable").items()
    }


def topic_partitions(admin: Admin, names: Iterable[str]) -> list[Where]:
    """The (topic, partition) pairs of those of `names` that exist, from one metadata call."""
    topics = admin.metadata().topics
    return [
        (name, partition)
        for name in names
        if name in topics and topics[name].error is None
        for partition in topics[name].partitions
    ]


def group_lags(admin: Admin, topics: Iterable[str] | None = None) -> list[GroupLag]:
    """Each consumer group that committed offsets on, or is assigned, any of `topics` (every
    topic but Kafka's internal ones when None): members, committed and end offsets, lag."""
    names = [g.group for g in list_groups(admin)]
    if not names:
        return []
    watched = topic_partitions(admin, admin.names() if topics is None else topics)
    descriptions = _describe(admin, names)
    committed_offsets = CommittedOffsets(admin.client_config(), timeout_s=admin.timeout_s)
    try:
        committed = {name: committed_offsets.of(name, watched) for name in names}
    finally:
        committed_offsets.close()
    ends = end_offsets(admin, watched)
    found = []
    for name in names:
        state, holders = descriptions.get(name, ("UNKNOWN", {}))
        # Every partition of a topic the group reads, also those it committed nothing on.
        touched = {topic for topic, _ in [*committed[name], *holders]}
        rows = tuple(
            PartitionLag(t, p, committed[name].get((t, p)), ends[(t, p)], holders.get((t, p)))
            for t, p in sorted(watched)
            if t in touched
        )
        if not rows:  # it reads only topics outside `topics`
            continue
        found.append(GroupLag(name, state, len(set(holders.values())), rows))
    return found


def _describe(admin: Admin, names: list[str]) -> dict[str, tuple[str, dict[Where, str]]]:
    """group → (state, {(topic, partition): "client-id@host"})."""
    futures = admin.client().describe_consumer_groups(names, request_timeout=admin.timeout_s)
    found = {}
    for name, future in futures.items():
        try:
            description = future.result(timeout=admin.timeout_s)
        except KafkaException:
            continue  # the group went away between listing and describing
        holders = {
            (tp.topic, tp.partition): f"{m.client_id}@{m.host.lstrip('/')}"
            for m in description.members
            for tp in (m.assignment.topic_partitions if m.assignment else [])
        }
        found[name] = (str(getattr(description.state, "name", description.state)), holders)
    return found
