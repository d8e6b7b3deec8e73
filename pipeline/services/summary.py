"""What a run of the consume loop did, updated as it goes and returned when it stops."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunSummary:
    service: str
    group_id: str
    consumed: int = 0  # messages read and finished (handled or dead-lettered)
    handled: int = 0  # events the service handled
    dead_lettered: Counter[str] = field(default_factory=Counter)  # by kind
    batches: int = 0
    commit_failures: int = 0
    registry_retries: int = 0  # batches read again because the registry was unreachable
    # Messages polled from a partition revoked during that poll: left to the new owner.
    dropped_after_revoke: int = 0
    assignments: int = 0
    partitions: list[int] = field(default_factory=list)
    stopped_by: str = "running"
    guarantee: str = ""  # a stateful service's: exactly-once or at-least-once
    transactions: int = 0  # batches whose output and offsets committed
    aborted_transactions: int = 0
    last_commit_at: float | None = None  # wall time of the last commit
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0

    def count_batch(self, consumed: int, handled: int, letters: Mapping[str, int]) -> None:
        """A batch done; `letters`: how many dead letters of each kind it wrote."""
        self.batches += 1
        self.consumed += consumed
        self.handled += handled
        self.dead_lettered.update({kind: n for kind, n in letters.items() if n})
        self.elapsed_s = time.monotonic() - self.started

    def count_transactions(self, committed: int, aborted: int, last_at: float | None) -> None:
        """A stateful service's commits so far (transactions under exactly-once)."""
        self.transactions, self.aborted_transactions = committed, aborted
        self.last_commit_at = last_at

    def finish(self) -> None:
        self.elapsed_s = time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.consumed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def describe(self) -> str:
        letters = ", ".join(f"{kind} {n}" for kind, n in sorted(self.dead_lettered.items()))
        lost = self.commit_failures
        return (
            f"{self.service} (group {self.group_id}) stopped ({self.stopped_by}): "
            f"{self.consumed} messages in {self.elapsed_s:.1f} s ({self.rate:,.0f}/s), "
            f"{self.handled} handled, dead-lettered: {letters or 'none'}"
            + (f", {lost} commits lost to rebalances" if lost else "")
            + (
                f", {self.registry_retries} retries for the registry"
                if self.registry_retries
                else ""
            )
            + (
                f", {self.guarantee}: {self.transactions} commits, "
                f"{self.aborted_transactions} transactions aborted"
                if self.guarantee
                else ""
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "group_id": self.group_id,
            "consumed": self.consumed,
            "handled": self.handled,
            "dead_lettered": dict(self.dead_lettered),
            "batches": self.batches,
            "commit_failures": self.commit_failures,
            "registry_retries": self.registry_retries,
            "dropped_after_revoke": self.dropped_after_revoke,
            "partitions": self.partitions,
            "stopped_by": self.stopped_by,
            "guarantee": self.guarantee,
            "transactions": self.transactions,
            "aborted_transactions": self.aborted_transactions,
            "last_commit_at": self.last_commit_at,
            "elapsed_s": round(self.elapsed_s, 3),
            "rate": round(self.rate, 1),
        }
