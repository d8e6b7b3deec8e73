"""What one sample of the pipeline holds, and the figures derived from it and the one before.

A sample is what the sampler saw at one moment: the parts' health, each topic's end (the sum
of its partitions' end offsets), each followed group's lag and committed total, and the
store's row counts. Rates are the change since the previous sample over the time between
them; there is none for the first sample, or for a figure the previous one lacked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.api.health import PartHealth

Offsets = dict[tuple[str, int], int]  # (topic, partition) → offset


@dataclass(frozen=True)
class GroupLag:
    group: str
    lag: int
    consumed: int  # sum of committed offsets: events in, as a counter
    partitions: dict[int, int]  # partition → lag
    rate: float | None  # committed events/s since the last sample


@dataclass(frozen=True)
class Sample:
    taken_at: float
    health: dict[str, PartHealth]
    topic_ends: dict[str, int] = field(default_factory=dict)  # topic → sum of end offsets
    topic_rates: dict[str, float | None] = field(default_factory=dict)
    groups: dict[str, GroupLag] = field(default_factory=dict)
    store_rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": round(self.taken_at, 3),
            "health": {name: part.to_dict() for name, part in self.health.items()},
            "topics": {
                name: {"end": end, "rate": _round(self.topic_rates.get(name))}
                for name, end in self.topic_ends.items()
            },
            "groups": {
                name: {"lag": g.lag, "consumed": g.consumed, "rate": _round(g.rate)}
                for name, g in self.groups.items()
            },
            "store_rows": self.store_rows,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def group_lag(
    group: str,
    topic: str,
    committed: Offsets,
    ends: Offsets,
    before: GroupLag | None,
    elapsed: float,
) -> GroupLag:
    """`group`'s lag on `topic`, per partition and in all, and its rate since `before`."""
    per_partition = {
        p: max(0, end - committed.get((t, p), 0)) for (t, p), end in ends.items() if t == topic
    }
    consumed = sum(n for (t, _), n in committed.items() if t == topic)
    rate = rate_of(consumed, before.consumed if before else None, elapsed)
    return GroupLag(group, sum(per_partition.values()), consumed, per_partition, rate)


def rate_of(now: int, before: int | None, elapsed: float) -> float | None:
    """Per second, from a counter now and `elapsed` seconds before (None: nothing to compare)."""
    if before is None or elapsed <= 0:
        return None
    return max(0, now - before) / elapsed
