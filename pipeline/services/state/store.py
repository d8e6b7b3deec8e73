"""One partition's state in a local SQLite file, plus the batch in hand in memory.

The file holds the entries as of a changelog offset it records (`changelog_offset`: the
next changelog record it has not applied) and the changelog topic's id: it is written
only after the output that carried the same changes committed (`commit`), so it is never
ahead of what others can read. The batch in hand (`put`/`delete` since the last commit)
stays in memory: reads see it first, `changes()` encodes it for the changelog, `discard()`
forgets it when the batch is to be redone. Values are stored as the JSON bytes that the
changelog carries, so restoring copies bytes without decoding them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.errors import PipelineError
from pipeline.services.state.table import Entry

_GET = "SELECT value, expires_at FROM kv WHERE key = ?"
SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER);
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StateFileError(PipelineError):
    """A local state file cannot be opened or read (the changelog can rebuild it)."""


class Change(NamedTuple):
    """One entry's change as the changelog carries it; `value` None deletes (a tombstone)."""

    key: str
    value: bytes | None
    expires_at: int | None


def _to_json(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    if to_json is None:
        raise TypeError(f"cannot store a {type(value).__name__} in the state")
    return to_json()


# One encoder for all: json.dumps with options builds a new one per call (a third of the
# cost of encoding a small entry).
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_to_json)


def encode(value: Any) -> bytes:
    return _ENCODER.encode(value).encode()


class PartitionStore:
    """A `Table` over one SQLite file; open with `PartitionStore.open(path)`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._pending: dict[str, Entry | None] = {}  # None: deleted in this batch

    @classmethod
    def open(cls, path: Path) -> PartitionStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # the changelog is the durable copy
            conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"state file {path} is unreadable: {exc}") from exc
        return cls(path, conn)

    # The table, as the service sees it.

    def get(self, key: str) -> Entry | None:
        if key in self._pending:
            return self._pending[key]
        row = self._conn.execute(_GET, (key,)).fetchone()
        return None if row is None else Entry(json.loads(row[0]), row[1])

    def put(self, key: str, value: Any, expires_at: int | None = None) -> None:
        self._pending[key] = Entry(value, expires_at)

    def delete(self, key: str) -> None:
        self._pending[key] = None

    def expired(self, upto: int) -> list[str]:
        rows = self._conn.execute("SELECT key FROM kv WHERE expires_at <= ?", (upto,))
        keys = {row[0] for row in rows}
        for key, pending in self._pending.items():
            expires_at = None if pending is None else pending.expires_at
            if expires_at is not None and expires_at <= upto:
                keys.add(key)
            else:
                keys.discard(key)
        return sorted(keys)

    # The batch in hand.

    def changes(self) -> list[Change]:
        """The batch's changes, encoded as the changelog and this file store them."""
        return [
            Change(key, None, None)
            if pending is None
            else Change(key, encode(pending.value), pending.expires_at)
            for key, pending in self._pending.items()
        ]

    def commit(self, changes: Sequence[Change], changelog_offset: int) -> None:
        """The output carrying `changes` committed: write them, with where the changelog is."""
        self._pending.clear()
        self.apply(changes, changelog_offset)

    def discard(self) -> None:
        self._pending.clear()

    def savepoint(self) -> dict[str, Entry | None]:
        """The batch in hand as it is now, to go back to if what follows fails."""
        return dict(self._pending)

    def rollback(self, savepoint: dict[str, Entry | None]) -> None:
        self._pending = dict(savepoint)

    # Restoring and bookkeeping.

    def apply(self, changes: Iterable[Change], changelog_offset: int) -> None:
        """Write changes (committed or restored) and the changelog offset, atomically."""
        latest = {change.key: change for change in changes}  # in order: the last one wins
        puts = [c for c in latest.values() if c.value is not None]
        deletes = [(c.key,) for c in latest.values() if c.value is None]
        with self._transaction():
            self._conn.executemany("DELETE FROM kv WHERE key = ?", deletes)
            self._conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", puts)
            self._set_meta(changelog_offset=changelog_offset, written_at=int(time.time()))

    def meta(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def changelog_offset(self) -> int | None:
        value = self.meta("changelog_offset")
        return None if value is None else int(value)

    def set_meta(self, **values: object) -> None:
        with self._transaction():
            self._set_meta(**values)

    def wipe(self) -> None:
        """Forget everything: the file is rebuilt from the changelog alone."""
        self._pending.clear()
        with self._transaction():
            self._conn.execute("DELETE FROM kv")
            self._conn.execute("DELETE FROM meta")

    def forget_all(self) -> None:
        """Delete every entry with this batch (tombstones for all of them)."""
        for (key,) in self._conn.execute("SELECT key FROM kv").fetchall():
            self._pending[key] = None

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM kv").fetchone()[0])

    def close(self) -> None:
        self._pending.clear()
        self._conn.close()

    def _set_meta(self, **values: object) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT (ROLLBACK on an exception) on the autocommit connection."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
