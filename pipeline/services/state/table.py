"""What a stateful service sees of one partition's state: a key-value table with expiry.

Keys are strings; values anything JSON can carry. A key starting with `~` is the service's
bookkeeping (its clock, its totals); `~position` is the state manager's own. `expires_at` is
an event time (ms) after which the service treats the entry as gone and purges it; the
table only keeps it and answers `expired()`. `MemoryTable` is the pure implementation the
unit tests and the replays of the fault tests run the services' logic on.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol


class Entry(NamedTuple):
    value: Any
    expires_at: int | None


class Table(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def put(self, key: str, value: Any, expires_at: int | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def expired(self, upto: int) -> list[str]:
        """Keys whose `expires_at` is at or before `upto`."""
        ...


class MemoryTable:
    """A table in a dict: the reference the SQLite-backed store must behave like."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def put(self, key: str, value: Any, expires_at: int | None = None) -> None:
        self.entries[key] = Entry(value, expires_at)

    def delete(self, key: str) -> None:
        self.entries.pop(key, None)

    def expired(self, upto: int) -> list[str]:
        return sorted(
            key
            for key, entry in self.entries.items()
            if entry.expires_at is not None and entry.expires_at <= upto
        )
